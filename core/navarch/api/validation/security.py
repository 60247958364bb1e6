"""Validation of security contexts, a container's and the pod's: user and group ids,
privilege escalation, proc mount, seccomp and AppArmor profiles, sysctls, and the
pod's group and SELinux change policies.
"""

from __future__ import annotations

import re

from navarch.api import errors
from navarch.api.field_checks import INT32_MAX, Errors, enum, in_range
from navarch.api.pod_kept import PodSecurityContext, ProfileRef, SecurityContext
from navarch.api.schema import join

PROC_MOUNTS = ("Default", "Unmasked")
PROFILE_TYPES = ("RuntimeDefault", "Unconfined", "Localhost")
FS_GROUP_CHANGE_POLICIES = ("OnRootMismatch", "Always")
SUPPLEMENTAL_GROUPS_POLICIES = ("Merge", "Strict")
SE_LINUX_CHANGE_POLICIES = ("MountOption", "Recursive")
_SYSCTL = re.compile(r"([a-z0-9]([-_a-z0-9]*[a-z0-9])?[./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?")


def validate_security_context(context: SecurityContext, path: str) -> Errors:
    errs: Errors = []
    for attr, wire in (("run_as_user", "runAsUser"), ("run_as_group", "runAsGroup")):
        errs += in_range(getattr(context, attr), join(path, wire), 0, INT32_MAX)
    errs += enum(context.proc_mount, join(path, "procMount"), PROC_MOUNTS)
    if context.allow_privilege_escalation is False:
        if context.privileged:
            errs.append(
                errors.invalid(
                    path,
                    "",
                    "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
                )
            )
        added = context.capabilities.add if context.capabilities else None
        if added and "CAP_SYS_ADMIN" in added:
            errs.append(
                errors.invalid(
                    path,
                    "",
                    "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` "
                    "CAP_SYS_ADMIN",
                )
            )
    errs += _profile(context.seccomp_profile, join(path, "seccompProfile"))
    errs += _profile(context.app_armor_profile, join(path, "appArmorProfile"))
    return errs


def validate_pod_security_context(context: PodSecurityContext, path: str) -> Errors:
    errs: Errors = []
    for attr, wire in (
        ("run_as_user", "runAsUser"),
        ("run_as_group", "runAsGroup"),
        ("fs_group", "fsGroup"),
    ):
        errs += in_range(getattr(context, attr), join(path, wire), 0, INT32_MAX)
    for i, group in enumerate(context.supplemental_groups or ()):
        errs += in_range(group, f"{join(path, 'supplementalGroups')}[{i}]", 0, INT32_MAX)
    errs += enum(
        context.fs_group_change_policy, join(path, "fsGroupChangePolicy"), FS_GROUP_CHANGE_POLICIES
    )
    errs += enum(
        context.supplemental_groups_policy,
        join(path, "supplementalGroupsPolicy"),
        SUPPLEMENTAL_GROUPS_POLICIES,
    )
    errs += enum(
        context.se_linux_change_policy, join(path, "seLinuxChangePolicy"), SE_LINUX_CHANGE_POLICIES
    )
    seen: set[str] = set()
    for i, sysctl in enumerate(context.sysctls or ()):
        name_path = f"{join(path, 'sysctls')}[{i}].name"
        if not sysctl.name:
            errs.append(errors.required(name_path))
            continue
        if len(sysctl.name) > 253 or not _SYSCTL.fullmatch(sysctl.name):
            errs.append(
                errors.invalid(
                    name_path,
                    sysctl.name,
                    "sysctl name must have at most 253 characters and be dot- or "
                    "slash-separated lower case alphanumeric words (e.g. 'kernel.shm_rmid_forced')",
                )
            )
        if sysctl.name in seen:
            errs.append(errors.duplicate(name_path, sysctl.name))
        seen.add(sysctl.name)
    errs += _profile(context.seccomp_profile, join(path, "seccompProfile"))
    errs += _profile(context.app_armor_profile, join(path, "appArmorProfile"))
    return errs


def _profile(profile: ProfileRef | None, path: str) -> Errors:
    if profile is None:
        return []
    type_path = join(path, "type")
    if not profile.type:
        return [errors.required(type_path)]
    errs = enum(profile.type, type_path, PROFILE_TYPES)
    local_path = join(path, "localhostProfile")
    if profile.type == "Localhost" and not profile.localhost_profile:
        errs.append(errors.required(local_path, 'must be set when type is "Localhost"'))
    elif profile.type != "Localhost" and profile.localhost_profile:
        errs.append(
            errors.invalid(
                local_path, profile.localhost_profile, 'can only be set when type is "Localhost"'
            )
        )
    return errs
