"""The script run inside the sandbox's helper processes: ``python -I -S _sandbox_child.py CONFIG``.

``tools/_sandbox.py`` (the agent's side) starts it by path with a JSON config (see ``_config``
there) and the program on stdin. It then acts as monitor, holder and init, and finally execs the
code (the chain is drawn in ``_sandbox.py``'s docstring). It reports how the code ended, or which
setup stage failed, as one JSON line on the status pipe.

Standard library only, and no import of agentlab: ``-I -S`` leaves out site-packages, ``PYTHON*``
variables and the script's own folder, so the helpers start before and outside any virtual
environment, and no project code is loaded into processes that then run the untrusted program.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__: list[str] = []  # a script, not a library: the agent's side never imports it

_NOBODY = 65534  # whom the code runs as when the agent runs as root (root is exempt from NPROC)
_CLONE_NEWUTS, _CLONE_NEWIPC, _CLONE_NEWNS = 0x04000000, 0x08000000, 0x00020000
_CLONE_NEWUSER, _CLONE_NEWPID, _CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18
_MS_NOATIME, _MS_NODIRATIME, _MS_RELATIME = 1024, 2048, 1 << 21
_MNT_DETACH = 2
_PR_SET_PDEATHSIG, _PR_CAPBSET_DROP, _PR_SET_SECUREBITS = 1, 24, 28
_PR_SET_CHILD_SUBREAPER, _PR_SET_NO_NEW_PRIVS = 36, 38
_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
_SECBITS = 0b11000011  # NOROOT and NO_CAP_AMBIENT_RAISE, each locked: exec grants no capability
_PIVOT_ROOT = {"x86_64": 155, "aarch64": 217, "riscv64": 41, "loongarch64": 41, "ppc64le": 203}
_SYSTEM_PATHS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]
_ETC_PATHS = ["/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime"]
_DEVICES = ["null", "zero", "full", "random", "urandom"]


def _child_main(config: dict[str, Any]) -> None:
    status_fd = config["status_fd"]
    os.set_inheritable(status_fd, False)  # the helpers report; the code never gets the pipe
    _die_with_parent(config["parent_pid"])
    if config["namespaces"]:
        _monitor_namespaced(config)
    else:
        _monitor_plain(config)


def _fork(config: dict[str, Any], stage: str, child: Callable[[], None]) -> int:
    """Fork; the child runs ``child`` and never returns; a failure is reported as ``stage``."""
    pid = os.fork()
    if pid == 0:
        try:
            _die_with_parent(None)
            child()
        except BaseException as exc:
            _report(config["status_fd"], {"error": str(exc), "stage": stage})
        os._exit(127)
    return pid


def _monitor_plain(config: dict[str, Any]) -> None:
    linux = sys.platform.startswith("linux")
    if linux:
        _prctl(_PR_SET_CHILD_SUBREAPER, 1)  # the code's orphans come to us, to be killed below
    pid = _fork(config, "exec", lambda: _exec_code(config, _count_tasks(os.getuid())))
    _report(config["status_fd"], _reap_until(pid))
    if linux:
        _kill_descendants()


def _kill_descendants() -> None:
    """Kill what the code left running, also what left its process group (setsid)."""
    me = os.getpid()
    for _ in range(1000):  # each round kills one generation; their children come to us next
        try:
            children = [int(p) for p in Path(f"/proc/{me}/task/{me}/children").read_text().split()]
        except OSError:
            return
        if not children:
            return
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        for child in children:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child, 0)


def _monitor_namespaced(config: dict[str, Any]) -> None:
    if os.geteuid() == 0:  # the host root's supplementary groups must not reach the code
        with contextlib.suppress(OSError):  # a container's root may lack CAP_SETGID
            os.setgroups([])
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = _fork(config, "namespaces", lambda: _holder(config, ready_w, go_r))
    os.close(ready_w)
    os.close(go_r)
    if os.read(ready_r, 1) != b"1":  # the holder failed and said why
        os.waitpid(pid, 0)
        return
    try:
        _write_id_maps(pid)
    except OSError as exc:
        _report(config["status_fd"], {"error": str(exc), "stage": "uid map"})
        os.kill(pid, signal.SIGKILL)
    else:
        os.write(go_w, b"1")
    os.waitpid(pid, 0)


def _write_id_maps(pid: int) -> None:
    """Map root inside to our own ids outside; host root also maps nobody, for the code to use.

    The helpers keep their ids, so they may still reach the host paths they bind (under a 0700
    /root, say); the code drops to nobody, which RLIMIT_NPROC limits and host root is not.
    """
    uid, gid = os.getuid(), os.getgid()
    with open(f"/proc/{pid}/setgroups", "w") as f:
        f.write("deny")
    maps = [(f"0 {uid} 1\n", f"0 {gid} 1\n")]
    if uid == 0:
        maps.insert(0, (f"0 0 1\n{_NOBODY} {_NOBODY} 1\n", f"0 0 1\n{_NOBODY} {_NOBODY} 1\n"))
    for index, (uid_map, gid_map) in enumerate(maps):
        try:
            with open(f"/proc/{pid}/uid_map", "w") as f:
                f.write(uid_map)
            with open(f"/proc/{pid}/gid_map", "w") as f:
                f.write(gid_map)
            return
        except PermissionError:  # a container's root may map no other id; run as root inside
            if index == len(maps) - 1:
                raise


def _holder(config: dict[str, Any], ready_w: int, go_r: int) -> None:
    _libc("unshare", _CLONE_NEWUSER | _CLONE_NEWNS | _CLONE_NEWNET | _CLONE_NEWPID | _CLONE_NEWIPC
          | _CLONE_NEWUTS)  # fmt: skip
    os.write(ready_w, b"1")
    if os.read(go_r, 1) != b"1":
        os._exit(1)
    pid = _fork(config, "filesystem", lambda: _init(config))  # pid 1 of the new pid namespace
    os.waitpid(pid, 0)
    os._exit(0)


def _init(config: dict[str, Any]) -> None:
    code_id = _NOBODY if _mapped(_NOBODY) else 0
    _build_root(config, code_id)
    pid = _fork(config, "exec", lambda: _exec_code(config, 0, code_id))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the code may signal pid 1; it must not die
    _report(config["status_fd"], _reap_until(pid))
    os._exit(0)  # pid 1 ends: the kernel kills everything left in the namespace


def _mapped(inside_id: int) -> bool:
    with open("/proc/self/uid_map") as f:
        ranges = [[int(n) for n in line.split()] for line in f]
    return any(first <= inside_id < first + count for first, _, count in ranges)


def _build_root(config: dict[str, Any], code_id: int) -> None:
    root = config["root"]
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)  # nothing propagates back to the host
    _mount("tmpfs", root, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0755,size=1m")
    exposed: list[str] = []
    for path in _SYSTEM_PATHS + config["prefixes"] + _ETC_PATHS:
        if not any(path == done or path.startswith(done + "/") for done in exposed):
            _expose(path, root)
            exposed.append(path)
    os.makedirs(root + "/dev")
    for name in _DEVICES:
        open(f"{root}/dev/{name}", "w").close()
        _mount(f"/dev/{name}", f"{root}/dev/{name}", None, _MS_BIND)
    for name, target in [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"),
                         ("shm", "/work")]:  # fmt: skip
        os.symlink(target, f"{root}/dev/{name}")
    os.mkdir(root + "/work")
    size = f"mode=0700,uid={code_id},gid={code_id},size={config['disk_mb']}m"
    _mount("tmpfs", root + "/work", "tmpfs", _MS_NOSUID | _MS_NODEV, size)
    os.symlink("/work", root + "/tmp")
    os.mkdir(root + "/proc")
    with contextlib.suppress(OSError):  # refused in some containers; python runs without it
        _mount("proc", root + "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
    with contextlib.suppress(OSError), open("/proc/sys/user/max_user_namespaces", "w") as f:
        f.write("0")  # no nested user namespaces: they are the usual way to regain capabilities
    os.chdir(root)
    _pivot_root()
    _libc("umount2", b".", _MNT_DETACH)  # the host's tree is gone for good
    os.chdir("/")
    _remount_readonly("/")
    os.chdir("/work")


def _expose(path: str, root: str) -> None:
    """Show host ``path`` read-only at the same place in the new root (symlinks as symlinks)."""
    if not os.path.lexists(path):
        return
    target = root + path
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.islink(path):
        os.symlink(os.readlink(path), target)
        return
    if os.path.isdir(path):
        os.makedirs(target, exist_ok=True)
    else:
        open(target, "w").close()
    _mount(path, target, None, _MS_BIND | _MS_REC)
    for mount_point in _mounts_under(target):
        _remount_readonly(mount_point)


def _remount_readonly(path: str) -> None:
    # Flags locked by the kernel (atime, noexec) must be kept or the remount is refused.
    flag = os.statvfs(path).f_flag
    kept = flag & (_MS_NOEXEC | _MS_NOATIME | _MS_NODIRATIME)
    if flag & os.ST_RELATIME:
        kept |= _MS_RELATIME
    flags = _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV | kept
    _mount(None, path, None, flags)


def _mounts_under(target: str) -> list[str]:
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), line.split()[4])
            if point == target or point.startswith(target + "/"):
                found.append(point)
    return found


def _exec_code(config: dict[str, Any], nproc_base: int, code_id: int = 0) -> None:
    import resource

    if config["namespaces"]:
        _drop_capabilities()  # for good at exec; setresuid still works until then
        os.setresgid(code_id, code_id, code_id)
        os.setresuid(code_id, code_id, code_id)
    for name, (soft, hard) in config["rlimits"].items():
        _set_rlimit(resource, getattr(resource, f"RLIMIT_{name}"), soft, hard)
    # Outside a user namespace, NPROC counts every process of the user; allow that many more.
    nproc = nproc_base + config["max_processes"]
    _set_rlimit(resource, resource.RLIMIT_NPROC, nproc, nproc)
    interpreter = config["interpreter"]
    argv = [interpreter, "-I", "-u", "-X", "utf8", "-"]  # the program comes on stdin
    os.execve(interpreter, argv, config["env"])


def _set_rlimit(resource: Any, kind: int, soft: int, hard: int) -> None:
    _, current_hard = resource.getrlimit(kind)
    if current_hard != resource.RLIM_INFINITY:
        soft, hard = min(soft, current_hard), min(hard, current_hard)
    resource.setrlimit(kind, (soft, hard))


def _drop_capabilities() -> None:
    _prctl(_PR_SET_SECUREBITS, _SECBITS)
    for capability in range(64):
        try:
            _prctl(_PR_CAPBSET_DROP, capability)
        except OSError:
            break  # past the kernel's last capability
    _prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL)
    _prctl(_PR_SET_NO_NEW_PRIVS, 1)


def _die_with_parent(expected_parent: int | None) -> None:
    if sys.platform.startswith("linux"):
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if expected_parent is not None and os.getppid() != expected_parent:
            os._exit(1)  # the agent is already gone


def _count_tasks(uid: int) -> int:
    """Processes and threads of ``uid`` now (RLIMIT_NPROC counts both); 0 without /proc."""
    total = 0
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                with contextlib.suppress(OSError, ValueError, KeyError, IndexError):
                    lines = Path(entry.path, "status").read_text().splitlines()
                    values = dict(line.split(":", 1) for line in lines if ":" in line)
                    if int(values["Uid"].split()[0]) == uid:
                        total += int(values["Threads"])
    return total


def _libc(name: str, *args: Any) -> int:
    """Call the C library's ``name``; its -1 becomes an OSError that says which call failed."""
    import ctypes

    result = int(getattr(ctypes.CDLL(None, use_errno=True), name)(*args))
    if result == -1:
        errno = ctypes.get_errno()
        detail = " ".join(os.fsdecode(a) for a in args if isinstance(a, bytes))
        raise OSError(errno, f"{name} {detail}: {os.strerror(errno)}".replace(" :", ":"))
    return result


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    import ctypes

    def c(text: str | None) -> bytes | None:
        return None if text is None else os.fsencode(text)

    _libc("mount", c(source), c(target), c(fstype), ctypes.c_ulong(flags), c(data or None))


def _pivot_root() -> None:
    import ctypes

    number = _PIVOT_ROOT.get(os.uname().machine)
    if number is None:
        raise OSError(f"pivot_root: unknown system call number on {os.uname().machine}")
    # pivot_root(".", ".") stacks the old root on the new one; the caller unmounts it.
    _libc("syscall", ctypes.c_long(number), b".", b".")


def _prctl(option: int, value: int) -> None:
    import ctypes

    zero = ctypes.c_ulong(0)
    _libc("prctl", option, ctypes.c_ulong(value), zero, zero, zero)


def _reap_until(pid: int) -> dict[str, int]:
    """Wait for ``pid``, reaping the orphans that come to us meanwhile; how did it end?"""
    while True:
        done, wait_status = os.wait()
        if done == pid:
            if os.WIFSIGNALED(wait_status):
                return {"signal": os.WTERMSIG(wait_status)}
            return {"exit": os.waitstatus_to_exitcode(wait_status)}


def _report(status_fd: int, status: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        os.write(status_fd, (json.dumps(status) + "\n").encode())


if __name__ == "__main__":
    _child_main(json.loads(sys.argv[1]))
