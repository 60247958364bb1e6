"""The core's own controllers, registered through ``navarch_register_controllers`` as
any third party's would be (this module is one of the core's default plugins)."""

from __future__ import annotations

from navarch import hookimpl
from navarch.controllers import (
    cronjob,
    daemonset,
    deployment,
    endpoints,
    endpointslice,
    garbagecollector,
    job,
    localpath,
    namespace,
    nodedns,
    nodeipam,
    nodelifecycle,
    podtermination,
    pvbinder,
    replicaset,
    servicelb,
    statefulset,
    ttlafterfinished,
    volumeprotection,
)
from navarch.registry import ControllerFactory, Register


@hookimpl
def navarch_register_controllers(register: Register[ControllerFactory]) -> None:
    register(namespace.NAME, namespace.NamespaceController, options=namespace.NamespaceOptions)
    register(podtermination.NAME, podtermination.PodTerminationController)
    register(garbagecollector.NAME, garbagecollector.GarbageCollector)
    register(deployment.NAME, deployment.DeploymentController)
    register(daemonset.NAME, daemonset.DaemonSetController, options=daemonset.DaemonSetOptions)
    register(replicaset.NAME, replicaset.ReplicaSetController, options=replicaset.ReplicaSetOptions)
    register(
        statefulset.NAME, statefulset.StatefulSetController, options=statefulset.StatefulSetOptions
    )
    register(
        nodelifecycle.NAME,
        nodelifecycle.NodeLifecycleController,
        options=nodelifecycle.NodeLifecycleOptions,
    )
    register(job.NAME, job.JobController, options=job.JobOptions)
    register(ttlafterfinished.NAME, ttlafterfinished.TTLAfterFinishedController)
    register(cronjob.NAME, cronjob.CronJobController)
    register(pvbinder.NAME, pvbinder.PersistentVolumeBinder)
    register(localpath.NAME, localpath.LocalPathProvisioner, options=localpath.LocalPathOptions)
    register(volumeprotection.NAME, volumeprotection.VolumeProtection)
    register(endpointslice.NAME, endpointslice.EndpointSliceController)
    register(endpoints.NAME, endpoints.EndpointsController)
    register(nodedns.NAME, nodedns.NodeDnsController)
    register(nodeipam.NAME, nodeipam.NodeIPAMController, options=nodeipam.NodeIPAMOptions)
    register(servicelb.NAME, servicelb.ServiceLBController)
