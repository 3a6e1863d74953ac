package dev.vhostnet.sys;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;

/**
 * The libc functions the project calls, direct-mapped through JNA. Package-private: everything
 * else reaches them through {@link Fd}, {@link Mmap} and {@link Syscalls}, which turn a failure
 * into a {@link SysException}. {@code size_t}/{@code off_t} are {@code long} (LP64 only).
 */
final class LibC {
    static {
        Native.register(LibC.class, NativeLibrary.getInstance("c"));
    }

    private LibC() {}

    static native int open(String path, int flags, int mode) throws LastErrorException;

    static native int close(int fd) throws LastErrorException;

    static native long read(int fd, Pointer buf, long count) throws LastErrorException;

    static native long write(int fd, Pointer buf, long count) throws LastErrorException;

    static native int ioctl(int fd, NativeLong request, Pointer arg) throws LastErrorException;

    static native int ioctl(int fd, NativeLong request, long arg) throws LastErrorException;

    static native long mmap(long addr, long length, int prot, int flags, int fd, long offset) throws LastErrorException;

    static native int munmap(long addr, long length) throws LastErrorException;

    static native int memfd_create(String name, int flags) throws LastErrorException;

    static native int eventfd(int initval, int flags) throws LastErrorException;

    static native int ftruncate(int fd, long length) throws LastErrorException;

    static native int socket(int domain, int type, int protocol) throws LastErrorException;

    static native int setns(int fd, int nstype) throws LastErrorException;

    static native int getpid();

    static native int gettid();

    static native int tgkill(int tgid, int tid, int sig) throws LastErrorException;

    static native int fcntl(int fd, int cmd, int arg) throws LastErrorException;

    static native int poll(Pointer fds, long nfds, int timeout) throws LastErrorException;

    static native int renameat2(int olddirfd, String oldpath, int newdirfd, String newpath, int flags)
            throws LastErrorException;

    static native int geteuid();

    static native String strerror(int errnum);

    /** Returns an error number instead of setting errno, as the {@code posix_spawn} family does. */
    static native int posix_spawnp(
            IntByReference pid, String file, Pointer fileActions, Pointer attr, Pointer argv, Pointer envp);

    static native int posix_spawn_file_actions_init(Pointer fileActions);

    static native int posix_spawn_file_actions_addclose(Pointer fileActions, int fd);

    static native int posix_spawn_file_actions_destroy(Pointer fileActions);

    static native int sigaction(int signum, SignalUapi.Sigaction act, Pointer oldact) throws LastErrorException;

    static native int waitpid(int pid, IntByReference status, int options) throws LastErrorException;
}
