package dev.vhostnet.tools;

import dev.vhostnet.sys.Errno;
import dev.vhostnet.sys.SysException;
import picocli.CommandLine;

/**
 * Turns a failure into one line on stderr and an exit code: a {@link SysException} with
 * {@code EPERM}/{@code EACCES} is 4 (permission), with {@code ENOENT}/{@code ENODEV}/{@code ENXIO}
 * 3 (the host lacks the device); {@link HostLacksException} 3; {@link NoPermissionException} 4;
 * {@link IllegalArgumentException} 2
 * (a bad value); anything else 1. The message carries the fix.
 */
final class Failures implements CommandLine.IExecutionExceptionHandler {
    static final int FAILURE = 1;
    static final int USAGE = 2;
    static final int HOST_LACKS = 3;
    static final int PERMISSION = 4;

    /** Something this host does not offer, with what to do about it. */
    static final class HostLacksException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        HostLacksException(String message) {
            super(message);
        }
    }

    /** Something this process may not do, with how to get the right. */
    static final class NoPermissionException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        NoPermissionException(String message) {
            super(message);
        }
    }

    @Override
    public int handleExecutionException(Exception e, CommandLine cli, CommandLine.ParseResult parsed) {
        cli.getErr().println(cli.getCommandSpec().qualifiedName() + ": " + e.getMessage());
        return exitCode(e);
    }

    static int exitCode(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SysException s) {
                if (s.is(Errno.EPERM) || s.is(Errno.EACCES)) {
                    return PERMISSION;
                }
                if (s.is(Errno.ENOENT) || s.is(Errno.ENODEV) || s.is(Errno.ENXIO)) {
                    return HOST_LACKS;
                }
                return FAILURE;
            }
        }
        if (e instanceof HostLacksException) {
            return HOST_LACKS;
        }
        if (e instanceof NoPermissionException) {
            return PERMISSION;
        }
        return e instanceof IllegalArgumentException ? USAGE : FAILURE;
    }
}
