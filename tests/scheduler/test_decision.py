"""The decision annotation reads on its own, and kubectl describe shows every line."""

from __future__ import annotations

from navarch.scheduler.decision import count_reasons, explain

WEIGHTS = {"least-allocated": 1, "owner-spread": 2, "taint-toleration": 1}
DETAILS = {
    "least-allocated": {"a": 50, "b": 80, "c": 10, "d": 0},
    "owner-spread": {"a": 100, "b": 100, "c": 0, "d": 0},
    "taint-toleration": {"a": 100, "b": 100, "c": 100, "d": 100},
}
TOTALS = {"a": 350, "b": 380, "c": 110, "d": 100}


def test_chosen_node_runners_up_and_filtered_nodes_in_plain_words():
    rejected = {
        "x": "Insufficient cpu",
        "y": "Insufficient cpu, Insufficient memory",
        "z": "node(s) had untolerated taint {gpu: true}",
    }
    text = explain("b", TOTALS, DETAILS, WEIGHTS, rejected=rejected, examined=7, total=7)
    assert text.splitlines() == [
        "b chosen from 4 feasible nodes: score 380 = least-allocated 80"
        " + owner-spread 100 (weight 2) + taint-toleration 100",
        "runner-up a: score 350 = least-allocated 50 + owner-spread 100 (weight 2)"
        " + taint-toleration 100",
        "runner-up c: score 110 = least-allocated 10 + owner-spread 0 (weight 2)"
        " + taint-toleration 100",
        "3 of 7 nodes filtered out: 2 Insufficient cpu, 1 Insufficient memory,"
        " 1 node(s) had untolerated taint {gpu: true}",
    ]


def test_every_line_fits_kubectl_describe():
    # kubectl describe prints a multi-line annotation line by line and cuts a line
    # beyond 138 characters: with ordinary node names nothing is lost.
    names = {f"worker-{i:04d}": i for i in range(4)}
    totals = {name: 300 + i for name, i in names.items()}
    details = {p: dict.fromkeys(names, 100) for p in WEIGHTS}
    text = explain(
        "worker-0003",
        totals,
        details,
        WEIGHTS,
        rejected={"worker-0009": "node(s) had untolerated taint {dedicated: gpu}"},
        examined=5,
        total=5,
    )
    assert all(len(line) <= 138 for line in text.splitlines()), text


def test_the_only_feasible_node_needs_no_scores():
    text = explain(
        "w2",
        {"w2": 0},
        {},
        WEIGHTS,
        rejected={"w1": "node(s) had untolerated taint {dedicated: gpu}"},
        examined=2,
        total=2,
    )
    assert text == (
        "w2 chosen: the only feasible node, so no scoring was needed\n"
        "1 of 2 nodes filtered out: 1 node(s) had untolerated taint {dedicated: gpu}"
    )


def test_ties_and_a_sampled_search_are_said():
    totals = {"a": 200, "b": 200, "c": 200}
    details = {"least-allocated": dict.fromkeys(totals, 100), "taint-toleration": {}}
    weights = {"least-allocated": 2}
    text = explain("c", totals, details, weights, rejected={}, examined=3, total=5000)
    lines = text.splitlines()
    assert lines[0].endswith("(tied with 2 other(s), picked at random)")
    assert "least-allocated 100 (weight 2)" in lines[0]
    assert (
        lines[-1]
        == "3 of 5000 nodes examined (the search stops once enough fit); no node filtered out"
    )
    all_examined = explain("c", totals, details, weights, rejected={}, examined=3, total=3)
    assert all_examined.splitlines()[-1] == "none of 3 nodes filtered out"


def test_a_profile_without_scores_says_so():
    text = explain("a", {"a": 0, "b": 0}, {}, {}, rejected={}, examined=2, total=2)
    assert text.splitlines()[0] == (
        "a chosen from 2 feasible nodes: score 0 (the profile weighs no score)"
        " (tied with 1 other(s), picked at random)"
    )


def test_reasons_are_counted_per_node_and_sorted():
    assert count_reasons(["Too many pods, Insufficient cpu", "Insufficient cpu"]) == (
        "2 Insufficient cpu, 1 Too many pods"
    )
