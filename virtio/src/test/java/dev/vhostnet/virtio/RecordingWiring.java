package dev.vhostnet.virtio;

import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.eventfd.IoAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

/** {@link VmWiring} without a VM: records what is bound, so tests see where each notifier goes. */
final class RecordingWiring implements VmWiring {
    final List<String> log = new ArrayList<>();
    final Map<EventFd, Integer> irqfds = new HashMap<>();
    final Map<Long, EventFd> ioeventfds = new HashMap<>();
    final Map<Integer, long[]> routes = new HashMap<>();

    @Override
    public synchronized Binding ioeventfd(EventFd fd, IoAddress at, OptionalLong datamatch) {
        log.add("ioeventfd 0x" + Long.toHexString(at.address()) + " len " + at.length() + " match "
                + datamatch.orElse(-1));
        ioeventfds.put(at.address(), fd);
        return () -> {
            synchronized (this) {
                ioeventfds.remove(at.address());
            }
        };
    }

    @Override
    public synchronized Binding irqfd(EventFd fd, int gsi) {
        if (irqfds.containsKey(fd)) {
            throw new IllegalStateException("irqfd assigned twice");
        }
        log.add("irqfd gsi " + gsi);
        irqfds.put(fd, gsi);
        return () -> {
            synchronized (this) {
                log.add("deassign gsi " + gsi);
                irqfds.remove(fd);
            }
        };
    }

    @Override
    public synchronized void routeMsi(int gsi, long address, int data) {
        log.add("route gsi " + gsi + " -> 0x" + Long.toHexString(address) + "/0x" + Integer.toHexString(data));
        routes.put(gsi, new long[] {address, data});
    }

    synchronized Integer irqfdGsi(EventFd fd) {
        return irqfds.get(fd);
    }
}
