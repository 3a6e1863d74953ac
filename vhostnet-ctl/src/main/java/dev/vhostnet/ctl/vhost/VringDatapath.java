package dev.vhostnet.ctl.vhost;

import dev.vhostnet.sys.SysException;

/**
 * The step that starts and stops a programmed vring moving packets — the one place the vhost
 * transports differ in {@link VringSetup}: vhost-net attaches a tap queue
 * ({@code VHOST_NET_SET_BACKEND}), vhost-user enables the ring ({@code SET_VRING_ENABLE}).
 */
public interface VringDatapath {
    /** The request's name, for logs and errors ({@code NET_SET_BACKEND}). */
    String request();

    /** Vring {@code index} of the pair's backend starts moving packets. */
    void attach(int index) throws SysException;

    /** Vring {@code index} stops moving packets. */
    void detach(int index) throws SysException;

    /**
     * A step that attaches nothing: the vrings of a pair the driver disabled are set up and stay
     * without a datapath ({@code NetDevice.enablePairs}); {@code request} names it in logs.
     */
    static VringDatapath none(String request) {
        return new VringDatapath() {
            @Override
            public String request() {
                return request;
            }

            @Override
            public void attach(int index) {
                // the pair is disabled
            }

            @Override
            public void detach(int index) {
                // nothing attached
            }
        };
    }
}
