"""Security contexts: a container's and the pod's (users, groups, capabilities, SELinux,
seccomp and AppArmor profiles, sysctls).
"""

from __future__ import annotations

from navarch.api.schema import Model, model, wire


@model()
class Capabilities(Model):
    add: tuple[str, ...] | None = wire()
    drop: tuple[str, ...] | None = wire()


@model()
class SELinuxOptions(Model):
    user: str | None = wire()
    role: str | None = wire()
    type: str | None = wire()
    level: str | None = wire()


@model()
class WindowsSecurityContextOptions(Model):
    gmsa_credential_spec_name: str | None = wire()
    gmsa_credential_spec: str | None = wire()
    run_as_user_name: str | None = wire()
    host_process: bool | None = wire()


@model()
class ProfileRef(Model):
    """SeccompProfile and AppArmorProfile."""

    type: str | None = wire()
    localhost_profile: str | None = wire()


@model()
class SecurityContext(Model):
    capabilities: Capabilities | None = wire()
    privileged: bool | None = wire()
    se_linux_options: SELinuxOptions | None = wire()
    windows_options: WindowsSecurityContextOptions | None = wire()
    run_as_user: int | None = wire()
    run_as_group: int | None = wire()
    run_as_non_root: bool | None = wire()
    read_only_root_filesystem: bool | None = wire()
    allow_privilege_escalation: bool | None = wire()
    proc_mount: str | None = wire()
    seccomp_profile: ProfileRef | None = wire()
    app_armor_profile: ProfileRef | None = wire()


@model()
class Sysctl(Model):
    name: str | None = wire()
    value: str | None = wire()


@model()
class PodSecurityContext(Model):
    se_linux_options: SELinuxOptions | None = wire()
    windows_options: WindowsSecurityContextOptions | None = wire()
    run_as_user: int | None = wire()
    run_as_group: int | None = wire()
    run_as_non_root: bool | None = wire()
    supplemental_groups: tuple[int, ...] | None = wire()
    supplemental_groups_policy: str | None = wire()
    fs_group: int | None = wire()
    sysctls: tuple[Sysctl, ...] | None = wire()
    fs_group_change_policy: str | None = wire()
    seccomp_profile: ProfileRef | None = wire()
    app_armor_profile: ProfileRef | None = wire()
    se_linux_change_policy: str | None = wire()
