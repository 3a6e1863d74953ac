package dev.vhostnet.virtio;

import static dev.vhostnet.sys.VirtioMmioUapi.*;

import com.google.common.base.Preconditions;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.eventfd.IoAddress;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.VirtioConfigUapi;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;

/**
 * A virtio-mmio device, version 2 (virtio 1.x §4.2, {@code <linux/virtio_mmio.h>}): one
 * {@link #SIZE}-byte window of 32-bit registers, the device configuration from
 * {@code VIRTIO_MMIO_CONFIG}. Written as Firecracker's {@code devices/virtio/mmio.rs} and QEMU's
 * {@code hw/virtio/virtio-mmio.c}: the VMM's exit loop hands every access in the window to
 * {@link #read}/{@link #write}; nothing a guest does there throws — a bad offset, size or value is
 * refused and counted in {@link #counters()}.
 *
 * <p>The hot path stays in KVM ({@link #attach}): {@code QueueNotify} is one ioeventfd per queue
 * with the queue index as datamatch (the VMM may register {@link #doorbells()} itself), and every
 * call eventfd plus the configuration notifier is an irqfd on the device's GSI. Because the kernel
 * signals those irqfds without this process, InterruptStatus cannot know which queue fired: it
 * reports {@code VIRTIO_MMIO_INT_VRING} whenever the device runs (as Firecracker does for
 * vhost-user), so Linux's {@code vm_interrupt} always looks at the rings.
 */
public final class VirtioMmioTransport implements AutoCloseable {
    /** The register window: registers below {@code 0x100}, device configuration above. */
    public static final int SIZE = 0x1000;
    /** Version 2: the non-legacy register layout. */
    public static final int VERSION = 2;

    private final DeviceState state;
    private final TransportCounters counters = new TransportCounters();
    private final long base;
    private final int gsi;
    private final int vendorId;
    private final List<VmWiring.Binding> bindings = new ArrayList<>();

    /**
     * A transport for {@code device} at guest-physical {@code base}, interrupting on {@code gsi};
     * queue rings are checked against {@code memory} when it is not null. {@code vendorId} is what
     * the VendorID register reads (Firecracker: 0; QEMU: "QEMU").
     */
    public VirtioMmioTransport(VirtioDevice device, long base, int gsi, int vendorId, MemoryTable memory)
            throws SysException {
        Preconditions.checkArgument(
                base >= 0 && base % 0x200 == 0, "base 0x%s is not 512-byte aligned", Long.toHexString(base));
        Preconditions.checkArgument(gsi >= 0, "gsi %s is negative", gsi);
        Preconditions.checkArgument(
                device.configSize() >= 0 && device.configSize() <= SIZE - VIRTIO_MMIO_CONFIG,
                "config space of %s bytes does not fit the window",
                device.configSize());
        this.state = new DeviceState(device, memory, counters);
        this.base = base;
        this.gsi = gsi;
        this.vendorId = vendorId;
    }

    /** The guest-physical address of the register window. */
    public long base() {
        return base;
    }

    /** The GSI the device interrupts on. */
    public int gsi() {
        return gsi;
    }

    /** One doorbell per queue: a 4-byte write of the queue index to {@code QueueNotify}. */
    public List<Doorbell> doorbells() {
        List<Doorbell> out = new ArrayList<>();
        for (int q = 0; q < state.queueCount(); q++) {
            out.add(new Doorbell(
                    q, IoAddress.mmio(base + VIRTIO_MMIO_QUEUE_NOTIFY, 4), OptionalLong.of(q), state.kick(q)));
        }
        return out;
    }

    /** The eventfds that interrupt the guest: each queue's call fd and the configuration notifier. */
    public List<EventFd> interruptNotifiers() {
        List<EventFd> out = new ArrayList<>();
        for (int q = 0; q < state.queueCount(); q++) {
            out.add(state.call(q));
        }
        out.add(state.configNotifier());
        return out;
    }

    /**
     * Registers the doorbells as ioeventfds and the interrupt notifiers as irqfds on {@link #gsi()};
     * {@link #close()} deassigns them. A failure deassigns what was done and throws: this runs at VM
     * setup, not in the exit loop.
     */
    public synchronized void attach(VmWiring wiring) throws SysException {
        Preconditions.checkState(bindings.isEmpty(), "already attached");
        try {
            for (Doorbell d : doorbells()) {
                bindings.add(wiring.ioeventfd(d.kick(), d.at(), d.datamatch()));
            }
            for (EventFd call : interruptNotifiers()) {
                bindings.add(wiring.irqfd(call, gsi));
            }
        } catch (SysException | RuntimeException e) {
            detach();
            throw e;
        }
    }

    /** A guest read of {@code data.length} bytes at {@code offset} into the window. */
    public void read(long offset, byte[] data) {
        try {
            synchronized (state) {
                if (offset >= VIRTIO_MMIO_CONFIG && offset < SIZE) {
                    state.readConfig(offset - VIRTIO_MMIO_CONFIG, data);
                } else if (isRegisterAccess(offset, data.length, "read")) {
                    Le.fill(data, readRegister((int) offset) & 0xffff_ffffL);
                } else {
                    Le.fill(data, 0);
                }
            }
        } catch (RuntimeException e) {
            counters.internalError("read 0x" + Long.toHexString(offset) + ": " + e);
            Le.fill(data, 0);
        }
    }

    /** A guest write of {@code data} at {@code offset} into the window. */
    public void write(long offset, byte[] data) {
        try {
            synchronized (state) {
                if (offset >= VIRTIO_MMIO_CONFIG && offset < SIZE) {
                    state.writeConfig(offset - VIRTIO_MMIO_CONFIG, data);
                } else if (isRegisterAccess(offset, data.length, "write")) {
                    writeRegister((int) offset, (int) Le.value(data));
                }
            }
        } catch (RuntimeException e) {
            counters.internalError("write 0x" + Long.toHexString(offset) + ": " + e);
        }
    }

    private boolean isRegisterAccess(long offset, int length, String what) {
        if (offset < 0 || offset >= VIRTIO_MMIO_CONFIG || length != 4 || offset % 4 != 0) {
            counters.badAccess(what + " of " + length + " bytes at 0x" + Long.toHexString(offset)
                    + ": registers are aligned 32-bit");
            return false;
        }
        return true;
    }

    private int readRegister(int offset) {
        QueueRegisters q = state.selectedQueue();
        return switch (offset) {
            case VIRTIO_MMIO_MAGIC_VALUE -> MAGIC;
            case VIRTIO_MMIO_VERSION -> VERSION;
            case VIRTIO_MMIO_DEVICE_ID -> state.device.deviceType();
            case VIRTIO_MMIO_VENDOR_ID -> vendorId;
            case VIRTIO_MMIO_DEVICE_FEATURES -> state.deviceFeaturesWord();
            case VIRTIO_MMIO_QUEUE_NUM_MAX -> q == null ? 0 : q.maxSize;
            case VIRTIO_MMIO_QUEUE_READY -> q != null && q.enabled != null ? 1 : 0;
            case VIRTIO_MMIO_INTERRUPT_STATUS ->
                state.interruptStatus() | (state.isActive() ? VIRTIO_MMIO_INT_VRING : 0);
            case VIRTIO_MMIO_STATUS -> state.status();
            // No shared memory regions: a length of all ones says so (Linux's vm_get_shm_region).
            case VIRTIO_MMIO_SHM_LEN_LOW, VIRTIO_MMIO_SHM_LEN_HIGH -> -1;
            case VIRTIO_MMIO_CONFIG_GENERATION -> state.configGeneration();
            default -> {
                counters.badAccess("read of write-only or undefined register 0x" + Integer.toHexString(offset));
                yield 0;
            }
        };
    }

    private void writeRegister(int offset, int value) {
        switch (offset) {
            case VIRTIO_MMIO_DEVICE_FEATURES_SEL -> state.selectDeviceFeatures(value);
            case VIRTIO_MMIO_DRIVER_FEATURES -> state.writeDriverFeaturesWord(value);
            case VIRTIO_MMIO_DRIVER_FEATURES_SEL -> state.selectDriverFeatures(value);
            case VIRTIO_MMIO_QUEUE_SEL -> state.selectQueue(value);
            case VIRTIO_MMIO_QUEUE_NUM -> {
                QueueRegisters q = state.writableQueue("QueueNum");
                if (q != null) {
                    q.size = value;
                }
            }
            case VIRTIO_MMIO_QUEUE_READY -> writeQueueReady(value);
            case VIRTIO_MMIO_QUEUE_NOTIFY -> state.notifyQueue(value, "QueueNotify");
            case VIRTIO_MMIO_INTERRUPT_ACK -> state.clearInterruptStatus(value);
            case VIRTIO_MMIO_STATUS -> state.writeStatus(value);
            case VIRTIO_MMIO_QUEUE_DESC_LOW,
                    VIRTIO_MMIO_QUEUE_DESC_HIGH,
                    VIRTIO_MMIO_QUEUE_AVAIL_LOW,
                    VIRTIO_MMIO_QUEUE_AVAIL_HIGH,
                    VIRTIO_MMIO_QUEUE_USED_LOW,
                    VIRTIO_MMIO_QUEUE_USED_HIGH -> writeQueueAddress(offset, value);
            case VIRTIO_MMIO_SHM_SEL -> {
                // Selects among no regions: every length reads as absent.
            }
            default ->
                counters.badAccess("write of read-only, legacy or undefined register 0x" + Integer.toHexString(offset));
        }
    }

    private void writeQueueReady(int value) {
        if (value == 1) {
            state.enableSelectedQueue();
        } else {
            counters.refusedWrite("QueueReady " + value + ": a queue is disabled by a device reset");
        }
    }

    private void writeQueueAddress(int offset, int value) {
        QueueRegisters q = state.writableQueue("queue address 0x" + Integer.toHexString(offset));
        if (q != null) {
            q.setAddressWord((offset - VIRTIO_MMIO_QUEUE_DESC_LOW) / 0x10, (offset & 4) != 0, value & 0xffff_ffffL);
        }
    }

    /** The notifiers the device was (or will be) activated with. */
    public Notifiers notifiers() {
        return state;
    }

    /** The device status register ({@code VIRTIO_CONFIG_S_*} bits). */
    public int status() {
        return state.status();
    }

    /** Whether the driver set DRIVER_OK and the device activated. */
    public boolean isActive() {
        return state.isActive() && (state.status() & VirtioConfigUapi.VIRTIO_CONFIG_S_NEEDS_RESET) == 0;
    }

    /** What the guest had refused. */
    public TransportCounters counters() {
        return counters;
    }

    private void detach() {
        for (VmWiring.Binding b : bindings) {
            try {
                b.close();
            } catch (SysException | RuntimeException e) {
                counters.wiringFailure("deassign: " + e.getMessage());
            }
        }
        bindings.clear();
    }

    /** Deassigns the ioeventfds and irqfds, resets an active device, closes the eventfds. */
    @Override
    public synchronized void close() {
        detach();
        state.close();
    }
}
