package dev.vhostnet.ctl.kernel;

import dev.vhostnet.ctl.vhost.VringDatapath;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.tap.TapQueue;

/** vhost-net's own ioctl (rust-vmm's {@code VhostNet}): the tap queue a vring moves packets to and from. */
public interface VhostNetBackend extends VhostKernelBackend {
    /** {@code VHOST_NET_SET_BACKEND}: vring {@code index} moves packets to and from {@code queue}. */
    void setBackend(int index, TapQueue queue) throws SysException;

    /** {@code VHOST_NET_SET_BACKEND} with fd -1: vring {@code index} stops moving packets. */
    void removeBackend(int index) throws SysException;

    /** The datapath step of {@code VringSetup} for this backend on {@code queue}. */
    default VringDatapath datapath(TapQueue queue) {
        VhostNetBackend backend = this;
        return new VringDatapath() {
            @Override
            public String request() {
                return "NET_SET_BACKEND";
            }

            @Override
            public void attach(int index) throws SysException {
                backend.setBackend(index, queue);
            }

            @Override
            public void detach(int index) throws SysException {
                backend.removeBackend(index);
            }
        };
    }
}
