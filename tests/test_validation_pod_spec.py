"""Issue 8 item 15: every PodSpec field Kubernetes defines is decoded strictly and
validated as Kubernetes validates it, with the field's path -- including the fields
Navarch keeps without acting on (volumes, probes, init containers, security contexts,
affinity, ...). Each case below was created (201) before."""

from __future__ import annotations

import copy

import pytest

from navarch.api import InvalidObject, dump, load
from navarch.apiserver.errors import from_invalid_object


def pod(**spec_overrides):
    spec = {"containers": [{"name": "web", "image": "web:1"}]}
    spec.update(spec_overrides)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": spec}


def container(**fields):
    return {"name": "web", "image": "web:1", **fields}


def with_volume(volume, **container_fields):
    return pod(containers=[container(**container_fields)], volumes=[volume])


def probe(**fields):
    return pod(containers=[container(livenessProbe=fields)])


C0 = "spec.containers[0]"

BAD = [
    # the issue's five examples
    (pod(initContainers=[{"name": "init"}]), "spec.initContainers[0].image", "FieldValueRequired"),
    (
        pod(initContainers=[{"name": "init", "image": "x", "imagePullPolicy": "Sometimes"}]),
        "spec.initContainers[0].imagePullPolicy",
        "FieldValueNotSupported",
    ),
    (
        pod(containers=[container(volumeMounts=[{"name": "data", "mountPath": "/d"}])]),
        f"{C0}.volumeMounts[0].name",
        "FieldValueNotFound",
    ),
    (
        probe(httpGett={"port": 80}),
        f"{C0}.livenessProbe.httpGett",
        "FieldValueUnknown",
    ),
    (
        pod(volumes=[{"name": "v", "emptyDirr": {}}]),
        "spec.volumes[0].emptyDirr",
        "FieldValueUnknown",
    ),
    # volumes
    (
        pod(volumes=[{"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}}]),
        "spec.volumes[0].hostPath",
        "FieldValueForbidden",
    ),
    (
        pod(volumes=[{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}]),
        "spec.volumes[1].name",
        "FieldValueDuplicate",
    ),
    (
        pod(volumes=[{"name": "Bad_Name", "emptyDir": {}}]),
        "spec.volumes[0].name",
        "FieldValueInvalid",
    ),
    (pod(volumes=[{"emptyDir": {}}]), "spec.volumes[0].name", "FieldValueRequired"),
    (
        pod(volumes=[{"name": "v", "hostPath": {"path": "/x", "type": "Dir"}}]),
        "spec.volumes[0].hostPath.type",
        "FieldValueNotSupported",
    ),
    (
        pod(volumes=[{"name": "v", "hostPath": {}}]),
        "spec.volumes[0].hostPath.path",
        "FieldValueRequired",
    ),
    (
        pod(volumes=[{"name": "v", "secret": {}}]),
        "spec.volumes[0].secret.secretName",
        "FieldValueRequired",
    ),
    (
        pod(
            volumes=[
                {"name": "v", "configMap": {"name": "c", "items": [{"key": "k", "path": "../x"}]}}
            ]
        ),
        "spec.volumes[0].configMap.items[0].path",
        "FieldValueInvalid",
    ),
    (
        pod(volumes=[{"name": "v", "configMap": {"name": "c", "defaultMode": 1000}}]),
        "spec.volumes[0].configMap.defaultMode",
        "FieldValueInvalid",
    ),
    (
        pod(volumes=[{"name": "v", "persistentVolumeClaim": {}}]),
        "spec.volumes[0].persistentVolumeClaim.claimName",
        "FieldValueRequired",
    ),
    (
        pod(
            volumes=[
                {
                    "name": "v",
                    "downwardAPI": {
                        "items": [{"path": "p", "fieldRef": {"fieldPath": "spec.nodeName"}}]
                    },
                }
            ]
        ),
        "spec.volumes[0].downwardAPI.items[0].fieldRef.fieldPath",
        "FieldValueNotSupported",
    ),
    (
        pod(
            volumes=[
                {
                    "name": "v",
                    "projected": {
                        "sources": [{"serviceAccountToken": {"path": "t", "expirationSeconds": 60}}]
                    },
                }
            ]
        ),
        "spec.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds",
        "FieldValueInvalid",
    ),
    (
        pod(volumes=[{"name": "v", "projected": {"sources": [{}]}}]),
        "spec.volumes[0].projected.sources[0]",
        "FieldValueRequired",
    ),
    (pod(volumes="v"), "spec.volumes", "FieldValueTypeInvalid"),
    (
        pod(volumes=[{"name": "v", "emptyDir": {"sizeLimit": "lots"}}]),
        "spec.volumes[0].emptyDir.sizeLimit",
        "FieldValueInvalid",
    ),
    # mounts and devices
    (
        with_volume({"name": "v", "emptyDir": {}}, volumeMounts=[{"name": "v"}]),
        f"{C0}.volumeMounts[0].mountPath",
        "FieldValueRequired",
    ),
    (
        with_volume(
            {"name": "v", "emptyDir": {}},
            volumeMounts=[{"name": "v", "mountPath": "/a"}, {"name": "v", "mountPath": "/a"}],
        ),
        f"{C0}.volumeMounts[1].mountPath",
        "FieldValueInvalid",
    ),
    (
        with_volume(
            {"name": "v", "emptyDir": {}},
            volumeMounts=[{"name": "v", "mountPath": "/a", "mountPropagation": "Sideways"}],
        ),
        f"{C0}.volumeMounts[0].mountPropagation",
        "FieldValueNotSupported",
    ),
    (
        with_volume(
            {"name": "v", "emptyDir": {}},
            volumeMounts=[{"name": "v", "mountPath": "/a", "subPath": "/abs"}],
        ),
        f"{C0}.volumeMounts[0].subPath",
        "FieldValueInvalid",
    ),
    (
        with_volume(
            {"name": "v", "emptyDir": {}}, volumeDevices=[{"name": "v", "devicePath": "/dev/x"}]
        ),
        f"{C0}.volumeDevices[0].name",
        "FieldValueInvalid",
    ),
    # probes and lifecycle
    (probe(initialDelaySeconds=1), f"{C0}.livenessProbe", "FieldValueRequired"),
    (
        probe(exec={"command": ["true"]}, tcpSocket={"port": 80}),
        f"{C0}.livenessProbe.tcpSocket",
        "FieldValueForbidden",
    ),
    (
        probe(tcpSocket={"port": 80}, successThreshold=2),
        f"{C0}.livenessProbe.successThreshold",
        "FieldValueInvalid",
    ),
    (probe(tcpSocket={"port": 0}), f"{C0}.livenessProbe.tcpSocket.port", "FieldValueInvalid"),
    (probe(httpGet={"port": "http_port"}), f"{C0}.livenessProbe.httpGet.port", "FieldValueInvalid"),
    (
        probe(httpGet={"port": 80, "scheme": "FTP"}),
        f"{C0}.livenessProbe.httpGet.scheme",
        "FieldValueNotSupported",
    ),
    (probe(exec={}), f"{C0}.livenessProbe.exec.command", "FieldValueRequired"),
    (
        probe(exec={"command": ["true"]}, periodSeconds=-1),
        f"{C0}.livenessProbe.periodSeconds",
        "FieldValueInvalid",
    ),
    (probe(exec={"command": "true"}), f"{C0}.livenessProbe.exec.command", "FieldValueTypeInvalid"),
    (
        pod(containers=[container(lifecycle={"preStop": {}})]),
        f"{C0}.lifecycle.preStop",
        "FieldValueRequired",
    ),
    (
        pod(containers=[container(lifecycle={"preStop": {"sleep": {"seconds": -1}}})]),
        f"{C0}.lifecycle.preStop.sleep.seconds",
        "FieldValueInvalid",
    ),
    # init, sidecar and ephemeral containers
    (
        pod(
            initContainers=[
                {"name": "i", "image": "x", "livenessProbe": {"exec": {"command": ["true"]}}}
            ]
        ),
        "spec.initContainers[0].livenessProbe",
        "FieldValueForbidden",
    ),
    (
        pod(initContainers=[{"name": "i", "image": "x", "restartPolicy": "Never"}]),
        "spec.initContainers[0].restartPolicy",
        "FieldValueNotSupported",
    ),
    (
        pod(containers=[container(restartPolicy="Always")]),
        f"{C0}.restartPolicy",
        "FieldValueForbidden",
    ),
    (
        pod(initContainers=[{"name": "web", "image": "x"}]),
        "spec.initContainers[0].name",
        "FieldValueDuplicate",
    ),
    # (a pod created with ephemeral containers: refused by the pod strategy on create,
    # tests/api/test_ephemeral_containers.py; a running pod's are checked here)
    (
        pod(
            ephemeralContainers=[
                {"name": "debug", "image": "busybox", "ports": [{"containerPort": 80}]}
            ]
        ),
        "spec.ephemeralContainers[0].ports",
        "FieldValueForbidden",
    ),
    (
        pod(
            ephemeralContainers=[
                {"name": "debug", "image": "busybox", "targetContainerName": "nope"}
            ]
        ),
        "spec.ephemeralContainers[0].targetContainerName",
        "FieldValueNotFound",
    ),
    # environment
    (
        pod(
            containers=[
                container(
                    env=[
                        {
                            "name": "A",
                            "value": "x",
                            "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                        }
                    ]
                )
            ]
        ),
        f"{C0}.env[0].valueFrom",
        "FieldValueInvalid",
    ),
    (
        pod(containers=[container(env=[{"name": "A", "valueFrom": {}}])]),
        f"{C0}.env[0].valueFrom",
        "FieldValueInvalid",
    ),
    (
        pod(
            containers=[
                container(
                    env=[{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "spec.bogus"}}}]
                )
            ]
        ),
        f"{C0}.env[0].valueFrom.fieldRef.fieldPath",
        "FieldValueNotSupported",
    ),
    (
        pod(
            containers=[
                container(env=[{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "c"}}}])
            ]
        ),
        f"{C0}.env[0].valueFrom.configMapKeyRef.key",
        "FieldValueRequired",
    ),
    (
        pod(
            containers=[
                container(
                    env=[
                        {"name": "A", "valueFrom": {"resourceFieldRef": {"resource": "limits.gpu"}}}
                    ]
                )
            ]
        ),
        f"{C0}.env[0].valueFrom.resourceFieldRef.resource",
        "FieldValueNotSupported",
    ),
    (pod(containers=[container(envFrom=[{}])]), f"{C0}.envFrom[0]", "FieldValueInvalid"),
    (
        pod(containers=[container(envFrom=[{"configMapRef": {}}])]),
        f"{C0}.envFrom[0].configMapRef.name",
        "FieldValueRequired",
    ),
    # container fields
    (
        pod(containers=[container(terminationMessagePolicy="Always")]),
        f"{C0}.terminationMessagePolicy",
        "FieldValueNotSupported",
    ),
    (
        pod(
            containers=[container(ports=[{"containerPort": 80, "name": "much-too-long-port-name"}])]
        ),
        f"{C0}.ports[0].name",
        "FieldValueInvalid",
    ),
    (
        pod(
            containers=[
                container(resizePolicy=[{"resourceName": "gpu", "restartPolicy": "NotRequired"}])
            ]
        ),
        f"{C0}.resizePolicy[0].resourceName",
        "FieldValueNotSupported",
    ),
    (
        pod(containers=[container(securityContext={"runAsUser": -1})]),
        f"{C0}.securityContext.runAsUser",
        "FieldValueInvalid",
    ),
    (
        pod(
            containers=[
                container(securityContext={"privileged": True, "allowPrivilegeEscalation": False})
            ]
        ),
        f"{C0}.securityContext",
        "FieldValueInvalid",
    ),
    (
        pod(containers=[container(securityContext={"seccompProfile": {"type": "Localhost"}})]),
        f"{C0}.securityContext.seccompProfile.localhostProfile",
        "FieldValueRequired",
    ),
    (
        pod(containers=[container(securityContext={"procMount": "Partial"})]),
        f"{C0}.securityContext.procMount",
        "FieldValueNotSupported",
    ),
    (
        pod(containers=[container(securityContext={"capabilities": {"add": "NET_ADMIN"}})]),
        f"{C0}.securityContext.capabilities.add",
        "FieldValueTypeInvalid",
    ),
    (pod(containers=[container(stdin="yes")]), f"{C0}.stdin", "FieldValueTypeInvalid"),
    (
        pod(containers=[container(resources={"claims": [{"name": "gpu"}]})]),
        f"{C0}.resources.claims[0].name",
        "FieldValueInvalid",
    ),
    # pod fields
    (pod(dnsPolicy="Sometimes"), "spec.dnsPolicy", "FieldValueNotSupported"),
    (pod(dnsPolicy="None"), "spec.dnsConfig", "FieldValueRequired"),
    (
        pod(dnsConfig={"nameservers": ["not-an-ip"]}),
        "spec.dnsConfig.nameservers[0]",
        "FieldValueInvalid",
    ),
    (
        pod(dnsConfig={"options": [{"value": "2"}]}),
        "spec.dnsConfig.options[0].name",
        "FieldValueRequired",
    ),
    (pod(activeDeadlineSeconds=0), "spec.activeDeadlineSeconds", "FieldValueInvalid"),
    (pod(serviceAccountName="Bad_SA"), "spec.serviceAccountName", "FieldValueInvalid"),
    (pod(hostname="a.b"), "spec.hostname", "FieldValueInvalid"),
    (
        pod(hostAliases=[{"ip": "300.1.1.1", "hostnames": ["x"]}]),
        "spec.hostAliases[0].ip",
        "FieldValueInvalid",
    ),
    (
        pod(readinessGates=[{"conditionType": "bad type"}]),
        "spec.readinessGates[0].conditionType",
        "FieldValueInvalid",
    ),
    (pod(preemptionPolicy="Sometimes"), "spec.preemptionPolicy", "FieldValueNotSupported"),
    (
        pod(securityContext={"fsGroupChangePolicy": "Never"}),
        "spec.securityContext.fsGroupChangePolicy",
        "FieldValueNotSupported",
    ),
    (
        pod(securityContext={"sysctls": [{"name": "Kernel.Bad!", "value": "1"}]}),
        "spec.securityContext.sysctls[0].name",
        "FieldValueInvalid",
    ),
    (
        pod(securityContext={"runAsUser": "0"}),
        "spec.securityContext.runAsUser",
        "FieldValueTypeInvalid",
    ),
    (
        pod(hostPID=True, shareProcessNamespace=True),
        "spec.shareProcessNamespace",
        "FieldValueInvalid",
    ),
    (pod(os={"name": "plan9"}), "spec.os.name", "FieldValueNotSupported"),
    (
        pod(schedulingGates=[{"name": "a"}, {"name": "a"}]),
        "spec.schedulingGates[1].name",
        "FieldValueDuplicate",
    ),
    (
        pod(
            topologySpreadConstraints=[
                {"maxSkew": 0, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}
            ]
        ),
        "spec.topologySpreadConstraints[0].maxSkew",
        "FieldValueInvalid",
    ),
    (
        pod(
            topologySpreadConstraints=[
                {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "Whenever"}
            ]
        ),
        "spec.topologySpreadConstraints[0].whenUnsatisfiable",
        "FieldValueNotSupported",
    ),
    (
        pod(topologySpreadConstraints=[{"maxSkew": 1, "whenUnsatisfiable": "DoNotSchedule"}]),
        "spec.topologySpreadConstraints[0].topologyKey",
        "FieldValueRequired",
    ),
    (
        pod(
            affinity={
                "podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {"labelSelector": {"matchLabels": {"app": "web"}}}
                    ]
                }
            }
        ),
        "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey",
        "FieldValueRequired",
    ),
    (
        pod(
            affinity={
                "podAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {"weight": 0, "podAffinityTerm": {"topologyKey": "zone"}}
                    ]
                }
            }
        ),
        "spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight",
        "FieldValueInvalid",
    ),
    (
        pod(
            affinity={
                "podAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "topologyKey": "zone",
                            "labelSelector": {
                                "matchExpressions": [{"key": "a", "operator": "Near"}]
                            },
                        }
                    ]
                }
            }
        ),
        "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchExpressions[0].operator",
        "FieldValueNotSupported",
    ),
    (
        pod(
            affinity={
                "podAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKeyy": "zone"}]
                }
            }
        ),
        "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKeyy",
        "FieldValueUnknown",
    ),
    (
        pod(
            hostNetwork=True,
            containers=[container(ports=[{"containerPort": 80, "hostPort": 8080}])],
        ),
        f"{C0}.ports[0].hostPort",
        "FieldValueInvalid",
    ),
    (pod(resourceClaims=[{"name": "gpu"}]), "spec.resourceClaims[0]", "FieldValueInvalid"),
    (pod(overhead={"cpu": "-1"}), "spec.overhead[cpu]", "FieldValueInvalid"),
]


@pytest.mark.parametrize(("data", "path", "reason"), BAD, ids=[case[1] for case in BAD])
def test_bad_pod_specs_are_refused_at_their_path(data, path, reason):
    with pytest.raises(InvalidObject) as info:
        load(copy.deepcopy(data))
    found = [(e.path, e.reason) for e in info.value.errors]
    assert (path, reason) in found
    status = from_invalid_object(info.value).to_status()
    assert status["code"] == 422
    assert path in [cause["field"] for cause in status["details"]["causes"]]


def deployment(template_spec):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": template_spec},
        },
    }


@pytest.mark.parametrize(
    ("template_spec", "path", "reason"),
    [
        (
            {"containers": [container(volumeMounts=[{"name": "data", "mountPath": "/d"}])]},
            "spec.template.spec.containers[0].volumeMounts[0].name",
            "FieldValueNotFound",
        ),
        (
            {"containers": [container(readinessProbe={"httpGett": {"port": 80}})]},
            "spec.template.spec.containers[0].readinessProbe.httpGett",
            "FieldValueUnknown",
        ),
        (
            {"containers": [container()], "ephemeralContainers": [{"name": "d", "image": "x"}]},
            "spec.template.spec.ephemeralContainers",
            "FieldValueForbidden",
        ),
    ],
)
def test_workload_templates_are_validated_the_same(template_spec, path, reason):
    data = deployment(template_spec)
    with pytest.raises(InvalidObject) as info:
        load(data)
    assert (path, reason) in [(e.path, e.reason) for e in info.value.errors]
    rs = deployment(template_spec)
    rs["kind"] = "ReplicaSet"
    with pytest.raises(InvalidObject) as info:
        load(rs)
    assert (path, reason) in [(e.path, e.reason) for e in info.value.errors]


FULL_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "full", "labels": {"app": "web"}},
    "spec": {
        "volumes": [
            {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
            {"name": "logs", "hostPath": {"path": "/var/log", "type": "Directory"}},
            {
                "name": "config",
                "configMap": {"name": "cfg", "items": [{"key": "a.conf", "path": "a.conf"}]},
            },
            {"name": "creds", "secret": {"secretName": "creds", "defaultMode": 0o400}},
            {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
            {
                "name": "info",
                "downwardAPI": {
                    "items": [
                        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                        {
                            "path": "cpu",
                            "resourceFieldRef": {"containerName": "web", "resource": "limits.cpu"},
                        },
                    ]
                },
            },
            {
                "name": "all-in-one",
                "projected": {
                    "sources": [
                        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}},
                        {
                            "configMap": {
                                "name": "kube-root-ca.crt",
                                "items": [{"key": "ca.crt", "path": "ca.crt"}],
                            }
                        },
                        {
                            "downwardAPI": {
                                "items": [
                                    {
                                        "path": "namespace",
                                        "fieldRef": {
                                            "apiVersion": "v1",
                                            "fieldPath": "metadata.namespace",
                                        },
                                    }
                                ]
                            }
                        },
                    ]
                },
            },
            {"name": "block", "persistentVolumeClaim": {"claimName": "raw"}},
            {"name": "cloud", "gcePersistentDisk": {"pdName": "disk-1"}},
        ],
        "initContainers": [
            {"name": "migrate", "image": "web:1", "command": ["migrate"]},
            {
                "name": "proxy",
                "image": "proxy:1",
                "restartPolicy": "Always",
                "readinessProbe": {"tcpSocket": {"port": 15000}},
            },
        ],
        "containers": [
            {
                "name": "web",
                "image": "web:1",
                "ports": [{"name": "http", "containerPort": 8080}],
                "env": [
                    {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {
                        "name": "TIER",
                        "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}},
                    },
                    {
                        "name": "CPU",
                        "valueFrom": {
                            "resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}
                        },
                    },
                    {
                        "name": "KEY",
                        "valueFrom": {
                            "secretKeyRef": {"name": "creds", "key": "api-key", "optional": True}
                        },
                    },
                ],
                "envFrom": [
                    {"prefix": "CFG_", "configMapRef": {"name": "cfg"}},
                    {"secretRef": {"name": "creds"}},
                ],
                "resources": {"limits": {"cpu": "1", "memory": "256Mi"}},
                "volumeMounts": [
                    {"name": "scratch", "mountPath": "/tmp"},
                    {
                        "name": "config",
                        "mountPath": "/etc/web",
                        "readOnly": True,
                        "recursiveReadOnly": "IfPossible",
                    },
                    {
                        "name": "all-in-one",
                        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                        "readOnly": True,
                    },
                    {"name": "logs", "mountPath": "/logs", "subPathExpr": "$(POD)"},
                ],
                "volumeDevices": [{"name": "block", "devicePath": "/dev/xvda"}],
                "livenessProbe": {
                    "httpGet": {
                        "path": "/healthz",
                        "port": "http",
                        "httpHeaders": [{"name": "X-Probe", "value": "1"}],
                    },
                    "periodSeconds": 5,
                },
                "readinessProbe": {"grpc": {"port": 9090}},
                "startupProbe": {"exec": {"command": ["cat", "/ready"]}, "failureThreshold": 30},
                "lifecycle": {
                    "preStop": {"sleep": {"seconds": 5}},
                    "postStart": {"exec": {"command": ["warm"]}},
                },
                "securityContext": {
                    "runAsNonRoot": True,
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "resizePolicy": [{"resourceName": "cpu", "restartPolicy": "NotRequired"}],
                "stdin": True,
                "tty": True,
            }
        ],
        "securityContext": {
            "runAsUser": 1000,
            "fsGroup": 2000,
            "sysctls": [{"name": "net.core.somaxconn", "value": "1024"}],
        },
        "affinity": {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "labelSelector": {"matchLabels": {"app": "web"}},
                        "topologyKey": "kubernetes.io/hostname",
                    }
                ],
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 50,
                        "podAffinityTerm": {
                            "topologyKey": "topology.kubernetes.io/zone",
                            "namespaces": ["default"],
                        },
                    }
                ],
            }
        },
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": {"app": "web"}},
            }
        ],
        "dnsPolicy": "None",
        "dnsConfig": {
            "nameservers": ["10.0.0.10"],
            "searches": ["svc.cluster.local."],
            "options": [{"name": "ndots", "value": "2"}],
        },
        "hostAliases": [{"ip": "127.0.0.1", "hostnames": ["foo.local"]}],
        "readinessGates": [{"conditionType": "example.com/ready"}],
        "imagePullSecrets": [{"name": "registry"}],
        "serviceAccountName": "web",
        "priorityClassName": "high",
        "activeDeadlineSeconds": 3600,
        "hostname": "web-0",
        "subdomain": "web",
        "os": {"name": "linux"},
        "schedulingGates": [{"name": "example.com/quota"}],
        "overhead": {"cpu": "250m"},
    },
}


def test_a_pod_using_every_common_field_is_valid_and_round_trips():
    loaded = load(copy.deepcopy(FULL_POD), defaults=False)
    assert dump(loaded.obj) == FULL_POD
    defaulted = load(copy.deepcopy(FULL_POD))  # and valid with Kubernetes' defaults
    spec = dump(defaulted.obj)["spec"]
    assert spec["volumes"][2]["configMap"]["defaultMode"] == 0o644
    assert spec["containers"][0]["livenessProbe"]["timeoutSeconds"] == 1
    assert spec["containers"][0]["terminationMessagePolicy"] == "File"


def test_every_problem_is_reported_at_once():
    data = pod(
        initContainers=[{"name": "init"}],
        containers=[
            container(volumeMounts=[{"name": "nope", "mountPath": "/x"}], livenessProbe={})
        ],
        volumes=[{"name": "v", "emptyDirr": {}}],
    )
    with pytest.raises(InvalidObject) as info:
        load(data)
    paths = {e.path for e in info.value.errors}
    assert {
        "spec.initContainers[0].image",
        f"{C0}.volumeMounts[0].name",
        f"{C0}.livenessProbe",
        "spec.volumes[0].emptyDirr",
    } <= paths
