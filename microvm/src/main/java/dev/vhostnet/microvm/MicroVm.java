package dev.vhostnet.microvm;

import com.google.common.base.Preconditions;
import dev.vhostnet.eventfd.Kvm;
import dev.vhostnet.eventfd.KvmVcpu;
import dev.vhostnet.eventfd.KvmVm;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.KvmUapi;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.virtio.KvmWiring;
import dev.vhostnet.virtio.VirtioDevice;
import dev.vhostnet.virtio.VirtioMmioTransport;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A one-vCPU KVM guest that boots a Linux bzImage directly in 64-bit mode — no firmware: the
 * in-kernel PIC, IOAPIC, LAPIC and PIT, an 8250 console on COM1 (IRQ 4, {@code KVM_IRQ_LINE}), the
 * i8042 reset line, and virtio-mmio devices announced in ACPI tables ({@link Acpi}: a DSDT and the
 * least around it, as Firecracker's). The bring-up follows
 * Firecracker's {@code builder.rs}: VM, TSS and identity-map addresses, irqchip, PIT, memory, the
 * vCPU's CPUID, then the kernel, initrd, command line and zero page, then the vCPU's registers.
 *
 * <pre>{@code
 * try (MicroVm vm = MicroVm.builder().kernel(vmlinuz).initrd(initrd).serialOutput(System.out).build()) {
 *     vm.start();
 *     Optional<VmExit> end = vm.awaitExit(Duration.ofMinutes(2));
 * }
 * }</pre>
 */
public final class MicroVm implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MicroVm.class);
    /** What VendorID reads on the virtio-mmio devices (Firecracker's value). */
    private static final int VIRTIO_MMIO_VENDOR = 0;
    /** How often the watcher kicks the vCPU to see whether it halted for good. */
    private static final Duration HALT_CHECK = Duration.ofSeconds(1);

    private final Owned owned;
    private final MemoryTable memory;
    private final ExitCounters counters;
    private final Bus io;
    private final Bus mmio;
    private final Serial8250 serial;
    private final List<VirtioMmioTransport> transports;
    private final VcpuLoop loop;
    private final String cmdline;
    private Thread thread;

    private MicroVm(
            Owned owned,
            MemoryTable memory,
            ExitCounters counters,
            Bus io,
            Bus mmio,
            Serial8250 serial,
            List<VirtioMmioTransport> transports,
            VcpuLoop loop,
            String cmdline) {
        this.owned = owned;
        this.memory = memory;
        this.counters = counters;
        this.io = io;
        this.mmio = mmio;
        this.serial = serial;
        this.transports = List.copyOf(transports);
        this.loop = loop;
        this.cmdline = cmdline;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Runs the vCPU on its own thread, and a watcher that kicks it once a second (see {@link VcpuLoop}); once only. */
    public synchronized void start() {
        Preconditions.checkState(thread == null, "already started");
        thread = new Thread(loop, "vcpu0");
        thread.setDaemon(true);
        thread.start();
        Thread watcher = new Thread(
                () -> {
                    while (!loop.exit().isDone()) {
                        try {
                            loop.exit().get(HALT_CHECK.toMillis(), TimeUnit.MILLISECONDS);
                        } catch (TimeoutException e) {
                            loop.kick();
                        } catch (InterruptedException | ExecutionException e) {
                            return;
                        }
                    }
                },
                "vcpu0-watch");
        watcher.setDaemon(true);
        watcher.start();
    }

    /** Waits up to {@code timeout} for the guest to end; empty if it still runs. */
    public Optional<VmExit> awaitExit(Duration timeout) throws InterruptedException {
        try {
            return Optional.of(loop.exit().get(timeout.toNanos(), TimeUnit.NANOSECONDS));
        } catch (TimeoutException e) {
            return Optional.empty();
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
    }

    /** The command line the kernel got. */
    public String cmdline() {
        return cmdline;
    }

    /** Exits by reason and the accesses no device took. */
    public ExitCounters counters() {
        return counters;
    }

    /**
     * Where the vCPU was at the last once-a-second kick, e.g. {@code rip 0xffffffff81… rflags 0x246
     * rsp 0x… mp_state 0 isr [] irr [] tpr 0x0 stack [0xffffffff81… …]} (the kernel addresses
     * among the 64 words above RSP): with {@code nokaslr} and the kernel's symbols, what a stalled
     * guest was doing and how it got there.
     */
    public String vcpuSample() {
        return loop.lastSample();
    }

    /** The port bus: COM1 at 0x3f8, the CMOS at 0x70 and the i8042 at 0x64 are on it. */
    public Bus ioBus() {
        return io;
    }

    /** The MMIO bus: the virtio-mmio transports are on it. */
    public Bus mmioBus() {
        return mmio;
    }

    /** The console UART, to type into ({@link Serial8250#receive}). */
    public Serial8250 serial() {
        return serial;
    }

    /** The virtio-mmio transports, in the order their devices were added. */
    public List<VirtioMmioTransport> virtioMmio() {
        return transports;
    }

    /** Guest RAM, from guest-physical 0. */
    public MemoryTable memory() {
        return memory;
    }

    /** Stops the vCPU if it runs, then closes every fd: devices, vCPU, VM, guest memory, {@code /dev/kvm}. */
    @Override
    public void close() {
        loop.stop(new VmExit(VmExit.Reason.STOPPED, ""));
        Thread t;
        synchronized (this) {
            t = thread;
        }
        if (t != null) {
            try {
                t.join(TimeUnit.SECONDS.toMillis(10));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (t.isAlive()) {
                // Closing the vCPU under a thread still in KVM_RUN would hand its fd number to the next open.
                log.error("vCPU thread did not stop; leaving the VM's fds open");
                return;
            }
        }
        owned.close();
    }

    /** What the VM owns, closed in the reverse order it was opened. */
    private static final class Owned implements AutoCloseable {
        private final Deque<AutoCloseable> stack = new ArrayDeque<>();

        <T extends AutoCloseable> T add(T resource) {
            stack.push(resource);
            return resource;
        }

        @Override
        public void close() {
            IllegalStateException failure = null;
            while (!stack.isEmpty()) {
                try {
                    stack.pop().close();
                } catch (Exception e) {
                    if (failure == null) {
                        failure = new IllegalStateException("closing the microVM", e);
                    } else {
                        failure.addSuppressed(e);
                    }
                }
            }
            if (failure != null) {
                throw failure;
            }
        }
    }

    /** Makes a virtio device for the guest RAM the VM has just mapped. */
    @FunctionalInterface
    public interface DeviceFactory {
        /** The device, on {@code guestMemory} (the VM's whole RAM, guest-physical address 0 up). */
        VirtioDevice create(MemoryTable guestMemory) throws IOException;
    }

    /** A device to place; {@code owned}: the VM closes it (it made it), else the caller keeps it. */
    private record Planned(DeviceFactory factory, boolean owned) {}

    /** What the VM boots and how big it is. */
    public static final class Builder {
        private Path kernel;
        private Path initrd;
        private String cmdline = KernelCmdline.DEFAULT;
        private int memoryMib = 256;
        private OutputStream serialOutput = OutputStream.nullOutputStream();
        private boolean redeliverLostInterrupts;
        private final List<Planned> virtioMmio = new ArrayList<>();

        private Builder() {}

        /** The bzImage to boot (required). */
        public Builder kernel(Path kernel) {
            this.kernel = kernel;
            return this;
        }

        /** The initramfs; none by default. */
        public Builder initrd(Path initrd) {
            this.initrd = initrd;
            return this;
        }

        /** The kernel command line; default {@link KernelCmdline#DEFAULT}. */
        public Builder cmdline(String cmdline) {
            this.cmdline = cmdline;
            return this;
        }

        /** Guest RAM in MiB, 16 to 3072; default 256. */
        public Builder memoryMib(int memoryMib) {
            this.memoryMib = memoryMib;
            return this;
        }

        /**
         * Whether the vCPU loop recovers interrupts the platform lost: a vector left in service
         * while the vCPU idles, which no correct machine shows, is delivered again ({@code
         * redelivered vector 0xNN} in {@link MicroVm#counters()}), and a vCPU idle at two
         * once-a-second kicks in a row gets each virtio-mmio device's interrupt raised once ({@code
         * device interrupts raised while idle}: spurious if nothing was lost, which virtio drivers
         * take). Off by default: for nested KVM under TCG, which loses injected interrupts
         * (microvm/README.md).
         */
        public Builder redeliverLostInterrupts(boolean on) {
            this.redeliverLostInterrupts = on;
            return this;
        }

        /** Where the console's output goes; discarded by default. */
        public Builder serialOutput(OutputStream serialOutput) {
            this.serialOutput = serialOutput;
            return this;
        }

        /**
         * Adds a virtio device on virtio-mmio: the n-th at {@code 0xd0000000 + n * 0x1000} on GSI
         * {@code 5 + n}, announced to the kernel in the ACPI DSDT as Firecracker does (an {@code
         * LNRO0005} device, which {@code virtio_mmio} binds to).
         */
        public Builder virtioMmio(VirtioDevice device) {
            Preconditions.checkNotNull(device, "device");
            virtioMmio.add(new Planned(memory -> device, false));
            return this;
        }

        /**
         * Adds a virtio device made once guest RAM exists, as a NIC's backend needs it (its memory
         * table): placed and announced as {@link #virtioMmio(VirtioDevice)} places them. The VM owns
         * what {@code factory} makes: {@link MicroVm#close()} closes it (if it is {@link
         * AutoCloseable}) after its transport has reset it, before the RAM goes.
         */
        public Builder virtioMmio(DeviceFactory factory) {
            virtioMmio.add(new Planned(Preconditions.checkNotNull(factory, "factory"), true));
            return this;
        }

        /** Creates the VM and loads the guest; the vCPU waits for {@link MicroVm#start()}. */
        public MicroVm build() throws IOException {
            Preconditions.checkState(kernel != null, "no kernel");
            Preconditions.checkArgument(
                    memoryMib >= 16 && (long) memoryMib << 20 <= Layout.MMIO_GAP,
                    "memory must be 16 to 3072 MiB: %s",
                    memoryMib);
            Preconditions.checkArgument(
                    virtioMmio.size() <= Layout.LAST_IRQ - Layout.VIRTIO_MMIO_FIRST_IRQ + 1,
                    "at most %s virtio-mmio devices",
                    Layout.LAST_IRQ - Layout.VIRTIO_MMIO_FIRST_IRQ + 1);
            BzImage image = BzImage.open(kernel);
            Owned owned = new Owned();
            try {
                return assemble(image, owned);
            } catch (IOException | RuntimeException e) {
                owned.close();
                throw e;
            }
        }

        private MicroVm assemble(BzImage image, Owned owned) throws IOException {
            long ram = (long) memoryMib << 20;
            Kvm kvm = owned.add(Kvm.open());
            KvmVm vm = owned.add(kvm.createVm());
            vm.setTssAddr(Layout.KVM_TSS);
            vm.setIdentityMapAddr(Layout.KVM_IDENTITY_MAP);
            vm.createIrqchip();
            vm.setGsiRouting(PcIrqRouting.routes());
            vm.createPit2(KvmUapi.KVM_PIT_SPEAKER_DUMMY);
            // Ticks regardless of the last one's acknowledgement (QEMU's lost_tick_policy=discard): in
            // reinject mode one lost tick stops the PIT for good, and the guest keeps time by its TSC.
            vm.setPitReinject(false);
            MemoryTable memory = owned.add(MemoryTable.builder().region(0, ram).build());
            vm.setMemoryTable(memory);
            KvmVcpu vcpu = owned.add(vm.createVcpu(0));
            vcpu.setCpuid2(Cpuid.forVcpu(kvm.supportedCpuid(), 0, 1));

            ExitCounters counters = new ExitCounters();
            Bus io = new Bus("pio", counters);
            Bus mmio = new Bus("mmio", counters);
            VcpuLoop loop = new VcpuLoop(vcpu, memory, io, mmio, counters, redeliverLostInterrupts);
            Serial8250 serial = new Serial8250(serialOutput, level -> {
                try {
                    vm.irqLine(Layout.COM1_IRQ, level);
                } catch (SysException e) {
                    counters.unhandled("serial interrupt", Layout.COM1_IRQ);
                }
            });
            io.add(Layout.COM1, Serial8250.PORTS, serial);
            io.add(Layout.CMOS, Cmos.PORTS, new Cmos());
            io.add(Layout.I8042_COMMAND, 1, new I8042(() -> loop.stop(new VmExit(VmExit.Reason.RESET, "i8042 reset"))));
            io.add(
                    Layout.ACPI_SLEEP,
                    1,
                    new AcpiSleepControl(() -> loop.stop(new VmExit(VmExit.Reason.POWEROFF, "ACPI S5"))));

            List<VirtioMmioTransport> transports = new ArrayList<>();
            List<Acpi.MmioDevice> acpiDevices = new ArrayList<>();
            KvmWiring wiring = new KvmWiring(vm, KvmWiring.irqchipDefaults());
            for (Planned planned : virtioMmio) {
                VirtioDevice device = planned.factory().create(memory);
                if (planned.owned() && device instanceof AutoCloseable) {
                    owned.add((AutoCloseable) device);
                }
                int n = transports.size();
                long base = Layout.VIRTIO_MMIO_BASE + (long) n * VirtioMmioTransport.SIZE;
                int gsi = Layout.VIRTIO_MMIO_FIRST_IRQ + n;
                VirtioMmioTransport transport =
                        owned.add(new VirtioMmioTransport(device, base, gsi, VIRTIO_MMIO_VENDOR, memory));
                transport.attach(wiring);
                mmio.add(base, VirtioMmioTransport.SIZE, new BusDevice() {
                    @Override
                    public void read(long offset, byte[] data) {
                        transport.read(offset, data);
                    }

                    @Override
                    public void write(long offset, byte[] data) {
                        transport.write(offset, data);
                    }
                });
                transports.add(transport);
                acpiDevices.add(new Acpi.MmioDevice(base, VirtioMmioTransport.SIZE, gsi));
            }
            Acpi.write(memory, acpiDevices);
            List<Integer> gsis = acpiDevices.stream().map(Acpi.MmioDevice::irq).toList();
            loop.raiseDeviceInterruptsWith(() -> {
                for (int gsi : gsis) {
                    try {
                        vm.irqLine(gsi, true);
                        vm.irqLine(gsi, false);
                    } catch (SysException e) {
                        counters.unhandled("idle interrupt", gsi);
                    }
                }
            });

            load(image, memory, ram, cmdline);
            BootCpu.configure(vcpu, memory, Layout.HIMEM + BzImage.ENTRY_64_OFFSET);
            // Closed last-registered first: the loop is stopped in close() before any of this.
            return new MicroVm(owned, memory, counters, io, mmio, serial, transports, loop, cmdline);
        }

        /** Places the kernel at 1 MiB, the initrd at the top of RAM it may use, the command line and the zero page. */
        private void load(BzImage image, MemoryTable memory, long ram, String line) throws IOException {
            long kernelEnd = Layout.HIMEM + Math.max(image.kernelSize(), image.initSize());
            Preconditions.checkArgument(
                    kernelEnd <= ram,
                    "%s needs %s bytes from 1 MiB; the guest has %s MiB",
                    image,
                    kernelEnd - Layout.HIMEM,
                    memoryMib);
            byte[] protectedMode = image.readKernel();
            memory.write(Layout.HIMEM, protectedMode, 0, protectedMode.length);

            long initrdAddress = 0;
            long initrdSize = 0;
            if (initrd != null) {
                byte[] bytes = Files.readAllBytes(initrd);
                initrdSize = bytes.length;
                long top = Math.min(ram, Math.min(image.initrdAddrMax() + 1, PageTables.MAPPED));
                initrdAddress = (top - initrdSize) & ~0xfffL;
                Preconditions.checkArgument(
                        initrdAddress >= kernelEnd,
                        "initrd %s (%s bytes) does not fit between the kernel and the top of RAM: give the guest more memory",
                        initrd,
                        initrdSize);
                memory.write(initrdAddress, bytes, 0, bytes.length);
            }

            byte[] text = line.getBytes(StandardCharsets.US_ASCII);
            Preconditions.checkArgument(
                    text.length <= image.cmdlineSize(),
                    "command line of %s bytes; the kernel takes %s",
                    text.length,
                    image.cmdlineSize());
            memory.write(Layout.CMDLINE, text, 0, text.length);
            memory.putByte(Layout.CMDLINE + text.length, (byte) 0);

            byte[] zeroPage = BootParams.build(image, E820.forRam(ram), Layout.CMDLINE, initrdAddress, initrdSize);
            memory.write(Layout.ZERO_PAGE, zeroPage, 0, zeroPage.length);
            log.debug(
                    "loaded {}; initrd {} bytes at 0x{}; cmdline \"{}\"",
                    image,
                    initrdSize,
                    Long.toHexString(initrdAddress),
                    line);
        }
    }
}
