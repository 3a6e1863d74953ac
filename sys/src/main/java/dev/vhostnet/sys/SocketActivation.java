package dev.vhostnet.sys;

import java.io.IOException;
import java.util.Map;
import java.util.Optional;

/**
 * systemd's socket activation as {@code sd_listen_fds(3)} reads it: when {@code LISTEN_PID} is this
 * process, {@code LISTEN_FDS} sockets were passed from descriptor {@value #SD_LISTEN_FDS_START} on.
 * A service of this project listens on one socket.
 */
public final class SocketActivation {
    /** The first passed descriptor ({@code <systemd/sd-daemon.h>}). */
    public static final int SD_LISTEN_FDS_START = 3;

    private SocketActivation() {}

    /** The listening socket systemd passed, or empty when this process was not socket-activated. */
    public static Optional<UnixListener> listener() throws IOException {
        return listener(System.getenv(), ProcessHandle.current().pid());
    }

    /** As {@link #listener()}, for the environment {@code env} of process {@code pid}. */
    static Optional<UnixListener> listener(Map<String, String> env, long pid) throws IOException {
        String listenPid = env.get("LISTEN_PID");
        String listenFds = env.get("LISTEN_FDS");
        if (listenPid == null || listenFds == null) {
            return Optional.empty();
        }
        try {
            if (Long.parseLong(listenPid.trim()) != pid) {
                return Optional.empty(); // meant for another process (a parent that exec'd without clearing it)
            }
            int count = Integer.parseInt(listenFds.trim());
            if (count != 1) {
                throw new SysException(
                        "sd_listen_fds",
                        Errno.EINVAL.number(),
                        count + " sockets passed (LISTEN_FDS=" + count
                                + "): this service listens on one; give its .socket unit one ListenStream=");
            }
        } catch (NumberFormatException e) {
            throw new SysException(
                    "sd_listen_fds",
                    Errno.EINVAL.number(),
                    "LISTEN_PID=" + listenPid + " LISTEN_FDS=" + listenFds + " are not numbers");
        }
        return Optional.of(UnixListener.inherited(SD_LISTEN_FDS_START));
    }
}
