package dev.vhostnet.vhostuser;

import dev.vhostnet.sys.SysException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.BooleanSupplier;

/**
 * Where a device gets a connection to its back-end, at start and again after the back-end went
 * away: {@link VhostUserDialer} dials a back-end that listens (QEMU's client mode), {@link VhostUserListener}
 * waits for a back-end to dial in (QEMU's {@code -chardev socket,server=on}; DPDK's {@code client=1}).
 */
public interface VhostUserEndpoint {
    /** The Unix socket's path. */
    Path path();

    /**
     * A connected front-end, protocol negotiated, within {@code timeout}. Fails with a {@link VhostUserException.Kind#TIMEOUT}
     * naming the path and what to start there, or {@link VhostUserException.Kind#CANCELLED} as soon as {@code cancelled}
     * says so (a device closed while it waits). Nothing stays open after a failure.
     */
    VhostUserFrontend open(Duration timeout, BooleanSupplier cancelled) throws SysException;

    /** The failure of an {@link #open} given up because {@code cancelled} said so. */
    static VhostUserException cancelled(String call) {
        return VhostUserException.cancelled(call, "the device was closed while it waited for a back-end");
    }
}
