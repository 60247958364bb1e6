"""navarch.controllers.history against a real API server: the revision's name and
labels, a hash collision resolved through the collision count, the current revision
told from the old ones, claiming (adopt, release) and truncation keeping what pods
still run."""

from __future__ import annotations

import uuid

from navarch.api.selectors import parse
from navarch.controllers import history
from navarch.controllers.owners import controller_of

TEMPLATE = {
    "metadata": {"labels": {"app": "agent"}},
    "spec": {"containers": [{"name": "c", "image": "local/agent:1"}]},
}


async def _owner(client, name: str):
    body = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "agent"}},
            "template": TEMPLATE,
        },
    }
    return await client.replicasets.create(body, "default")


def _name() -> str:
    return f"hist-{uuid.uuid4().hex[:6]}"


def test_template_patch_and_hash_are_kubernetes_shaped():
    data = history.template_patch(TEMPLATE)
    assert data["spec"]["template"]["$patch"] == "replace"
    assert "$patch" not in TEMPLATE  # the caller's template untouched
    hash_ = history.revision_hash(data)
    assert hash_ == history.revision_hash(history.template_patch(dict(TEMPLATE)))
    assert set(hash_) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert history.revision_hash(data, 1) != hash_
    assert history.revision_name("x" * 300, hash_) == "x" * 223 + "-" + hash_


async def test_create_names_labels_and_owns_the_revision(client):
    owner = await _owner(client, _name())
    data = history.template_patch(TEMPLATE)
    revision, collisions = await history.create(
        client, owner, data, 1, None, template_labels={"app": "agent"}
    )
    hash_ = history.revision_hash(data)
    assert revision.name == f"{owner.name}-{hash_}"
    assert revision.metadata.labels == {"app": "agent", history.HASH_LABEL: hash_}
    assert revision.revision == 1 and revision.data == data
    assert controller_of(revision).uid == owner.metadata.uid
    assert collisions is None
    assert history.template_of(revision) == TEMPLATE
    # the same data again: that revision, not a new one
    again, collisions = await history.create(client, owner, data, 1, None)
    assert again.metadata.uid == revision.metadata.uid and collisions is None


async def test_a_name_taken_by_other_data_bumps_the_collision_count(client):
    owner = await _owner(client, _name())
    data = history.template_patch(TEMPLATE)
    squatter = history.new_revision(owner, {"other": True}, 1)
    squatter["metadata"]["name"] = history.revision_name(owner.name, history.revision_hash(data))
    await client.controllerrevisions.create(squatter, "default")
    revision, collisions = await history.create(client, owner, data, 1, None)
    assert collisions == 1
    assert revision.name == history.revision_name(owner.name, history.revision_hash(data, 1))
    assert revision.data == data


async def test_split_claim_and_truncate(client):
    owner = await _owner(client, _name())
    made = []
    for n in range(1, 5):
        template = {**TEMPLATE, "spec": {"containers": [{"name": "c", "image": f"local/a:{n}"}]}}
        revision, _ = await history.create(
            client,
            owner,
            history.template_patch(template),
            n,
            None,
            template_labels={"app": "agent"},
        )
        made.append(revision)
    # an orphan the selector matches is adopted; an owned one that no longer matches released
    orphan = history.new_revision(owner, {"orphan": 1}, 7, template_labels={"app": "agent"})
    del orphan["metadata"]["ownerReferences"]
    orphan = await client.controllerrevisions.create(orphan, "default")
    stray = history.new_revision(owner, {"stray": 1}, 8, template_labels={"app": "other"})
    stray = await client.controllerrevisions.create(stray, "default")
    listed = (await client.controllerrevisions.list("default")).items
    owned = await history.claim(client, owner, parse("app=agent"), listed)
    names = {r.name for r in owned}
    assert {r.name for r in made} | {orphan.name} == names
    assert controller_of(await client.controllerrevisions.get(orphan.name, "default")).uid == (
        owner.metadata.uid
    )
    assert controller_of(await client.controllerrevisions.get(stray.name, "default")) is None

    current, old = history.split(owned, made[3].data)
    assert current.name == made[3].name
    assert history.next_number(old) == 8  # the orphan's 7 counts
    # four old ones (1, 2, 3 and the orphan's 7), two kept; revision 1 is still live
    # (a pod runs it), so 2 and 3 go
    deleted = await history.truncate(client, old, 2, live={history.hash_of(made[0])})
    assert deleted == [made[1].name, made[2].name]
    left = {r.name for r in (await client.controllerrevisions.list("default")).items}
    assert made[0].name in left and orphan.name in left and made[3].name in left
    renumbered = await history.renumber(client, made[0], 9)
    assert renumbered.revision == 9
