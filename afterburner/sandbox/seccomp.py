"""A seccomp filter for the child that runs candidate code: the syscalls that leave state behind, start
processes or reach outside the process fail, everything else is allowed.

Stdlib only (ctypes; the worker imports it inside the sandbox). Installed by the harness in the forked
child after it has read its job and before any candidate code runs; a filter cannot be removed, and
``no_new_privs`` is set with it. What it denies, and why:

- new processes: ``fork``, ``vfork``, ``clone`` without ``CLONE_THREAD`` (threads stay allowed: their CPU
  time is the process's own), ``clone3`` (ENOSYS, so the C library falls back to ``clone``), ``execve``:
  every CPU cycle a candidate spends is in the one process whose rusage the sandbox reads;
- kernel objects that outlive a process: SysV shared memory, semaphores and message queues, POSIX
  message queues, keyrings (``add_key``, ``keyctl``, ``request_key``);
- other processes and the kernel: ``ptrace``, ``process_vm_*``, ``pidfd_getfd``, ``kcmp``, namespaces,
  mounts, ``chroot``, ``bpf``, ``perf_event_open``, ``userfaultfd``, io_uring (its operations bypass
  seccomp), modules, kexec, and a few legacy calls; other architectures' system call tables (x32, int 0x80)
  kill the process.

x86_64 and aarch64 only; elsewhere `install` returns False and the worker says so.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
CLONE_THREAD = 0x00010000
RET_ALLOW = 0x7FFF0000
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000

_COMMON = (
    "shmget shmat shmctl shmdt semget semop semctl semtimedop msgget msgsnd msgrcv msgctl "
    "mq_open mq_unlink mq_timedsend mq_timedreceive mq_notify mq_getsetattr add_key request_key keyctl "
    "ptrace process_vm_readv process_vm_writev pidfd_getfd kcmp process_madvise unshare setns mount "
    "umount2 pivot_root chroot open_tree move_mount fsopen fsconfig fsmount fspick mount_setattr bpf "
    "perf_event_open userfaultfd io_uring_setup io_uring_enter io_uring_register execve execveat "
    "kexec_load kexec_file_load init_module finit_module delete_module name_to_handle_at "
    "open_by_handle_at acct swapon swapoff reboot sethostname setdomainname quotactl vhangup"
).split()

# (audit arch, syscall numbers by name); from <asm/unistd_64.h> and <asm-generic/unistd.h>
_ARCHES = {
    "x86_64": (
        0xC000003E,
        dict(
            fork=57,
            vfork=58,
            clone=56,
            clone3=435,
            shmget=29,
            shmat=30,
            shmctl=31,
            shmdt=67,
            semget=64,
            semop=65,
            semctl=66,
            semtimedop=220,
            msgget=68,
            msgsnd=69,
            msgrcv=70,
            msgctl=71,
            mq_open=240,
            mq_unlink=241,
            mq_timedsend=242,
            mq_timedreceive=243,
            mq_notify=244,
            mq_getsetattr=245,
            add_key=248,
            request_key=249,
            keyctl=250,
            ptrace=101,
            process_vm_readv=310,
            process_vm_writev=311,
            pidfd_getfd=438,
            kcmp=312,
            process_madvise=440,
            unshare=272,
            setns=308,
            mount=165,
            umount2=166,
            pivot_root=155,
            chroot=161,
            open_tree=428,
            move_mount=429,
            fsopen=430,
            fsconfig=431,
            fsmount=432,
            fspick=433,
            mount_setattr=442,
            bpf=321,
            perf_event_open=298,
            userfaultfd=323,
            io_uring_setup=425,
            io_uring_enter=426,
            io_uring_register=427,
            execve=59,
            execveat=322,
            kexec_load=246,
            kexec_file_load=320,
            init_module=175,
            finit_module=313,
            delete_module=176,
            name_to_handle_at=303,
            open_by_handle_at=304,
            acct=163,
            swapon=167,
            swapoff=168,
            reboot=169,
            sethostname=170,
            setdomainname=171,
            quotactl=179,
            vhangup=153,
            iopl=172,
            ioperm=173,
            modify_ldt=154,
            lookup_dcookie=212,
            uselib=134,
        ),
    ),
    "aarch64": (
        0xC00000B7,
        dict(
            clone=220,
            clone3=435,
            shmget=194,
            shmctl=195,
            shmat=196,
            shmdt=197,
            semget=190,
            semctl=191,
            semtimedop=192,
            semop=193,
            msgget=186,
            msgctl=187,
            msgrcv=188,
            msgsnd=189,
            mq_open=180,
            mq_unlink=181,
            mq_timedsend=182,
            mq_timedreceive=183,
            mq_notify=184,
            mq_getsetattr=185,
            add_key=217,
            request_key=218,
            keyctl=219,
            ptrace=117,
            process_vm_readv=270,
            process_vm_writev=271,
            pidfd_getfd=438,
            kcmp=272,
            process_madvise=440,
            unshare=97,
            setns=268,
            mount=40,
            umount2=39,
            pivot_root=41,
            chroot=51,
            open_tree=428,
            move_mount=429,
            fsopen=430,
            fsconfig=431,
            fsmount=432,
            fspick=433,
            mount_setattr=442,
            bpf=280,
            perf_event_open=241,
            userfaultfd=282,
            io_uring_setup=425,
            io_uring_enter=426,
            io_uring_register=427,
            execve=221,
            execveat=281,
            kexec_load=104,
            kexec_file_load=294,
            init_module=105,
            finit_module=273,
            delete_module=106,
            name_to_handle_at=264,
            open_by_handle_at=265,
            acct=89,
            swapon=224,
            swapoff=225,
            reboot=142,
            sethostname=161,
            setdomainname=162,
            quotactl=60,
            vhangup=58,
        ),
    ),
}


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k & 0xFFFFFFFF)


LD_W_ABS, JEQ_K, JGE_K, JSET_K, RET_K = 0x20, 0x15, 0x35, 0x45, 0x06


def program(machine: str | None = None) -> bytes | None:
    """The BPF program for this machine (None: architecture not supported)."""
    arch = _ARCHES.get(machine or platform.machine())
    if arch is None:
        return None
    audit, nrs = arch
    deny = [
        nrs[n]
        for n in ("fork", "vfork", *_COMMON, "iopl", "ioperm", "modify_ldt", "lookup_dcookie", "uselib")
        if n in nrs
    ]
    p = [_insn(LD_W_ABS, 0, 0, 4), _insn(JEQ_K, 1, 0, audit), _insn(RET_K, 0, 0, RET_KILL_PROCESS)]
    p.append(_insn(LD_W_ABS, 0, 0, 0))  # the syscall number
    if audit == 0xC000003E:  # the x32 ABI: numbers with bit 30 set
        p += [_insn(JGE_K, 0, 1, 0x40000000), _insn(RET_K, 0, 0, RET_KILL_PROCESS)]
    for nr in deny:
        p += [_insn(JEQ_K, 0, 1, nr), _insn(RET_K, 0, 0, RET_ERRNO | errno.EPERM)]
    p += [_insn(JEQ_K, 0, 1, nrs["clone3"]), _insn(RET_K, 0, 0, RET_ERRNO | errno.ENOSYS)]
    p += [
        _insn(JEQ_K, 0, 4, nrs["clone"]),
        _insn(LD_W_ABS, 0, 0, 16),  # args[0] (flags), low 32 bits (little endian)
        _insn(JSET_K, 1, 0, CLONE_THREAD),
        _insn(RET_K, 0, 0, RET_ERRNO | errno.EPERM),
        _insn(RET_K, 0, 0, RET_ALLOW),
        _insn(RET_K, 0, 0, RET_ALLOW),
    ]
    return b"".join(p)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install() -> bool:
    """Install the filter in this process (and its threads to come). False if it is not available."""
    prog = program()
    if prog is None:
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(prog, len(prog))
    fprog = _SockFprog(len(prog) // 8, ctypes.cast(buf, ctypes.c_void_p))
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    return libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) == 0
