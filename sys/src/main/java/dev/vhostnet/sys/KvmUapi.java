package dev.vhostnet.sys;

import com.sun.jna.Structure;
import com.sun.jna.Structure.FieldOrder;

/** {@code <linux/kvm.h>} (x86-64): the ioctls, capabilities, exit reasons and structs the project uses. */
public final class KvmUapi {
    private KvmUapi() {}

    public static final int KVMIO = 0xAE;

    public static final Ioctl KVM_GET_API_VERSION = Ioctl.io("KVM_GET_API_VERSION", KVMIO, 0x00);
    public static final Ioctl KVM_CREATE_VM = Ioctl.io("KVM_CREATE_VM", KVMIO, 0x01);
    public static final Ioctl KVM_CHECK_EXTENSION = Ioctl.io("KVM_CHECK_EXTENSION", KVMIO, 0x03);
    public static final Ioctl KVM_GET_VCPU_MMAP_SIZE = Ioctl.io("KVM_GET_VCPU_MMAP_SIZE", KVMIO, 0x04);
    public static final Ioctl KVM_CREATE_VCPU = Ioctl.io("KVM_CREATE_VCPU", KVMIO, 0x41);
    public static final Ioctl KVM_SET_USER_MEMORY_REGION =
            Ioctl.iow("KVM_SET_USER_MEMORY_REGION", KVMIO, 0x46, KvmUserspaceMemoryRegion.SIZE);
    public static final Ioctl KVM_SET_TSS_ADDR = Ioctl.io("KVM_SET_TSS_ADDR", KVMIO, 0x47);
    public static final Ioctl KVM_CREATE_IRQCHIP = Ioctl.io("KVM_CREATE_IRQCHIP", KVMIO, 0x60);
    public static final Ioctl KVM_SET_GSI_ROUTING = Ioctl.iow("KVM_SET_GSI_ROUTING", KVMIO, 0x6a, KvmIrqRouting.SIZE);
    public static final Ioctl KVM_IRQFD = Ioctl.iow("KVM_IRQFD", KVMIO, 0x76, KvmIrqfd.SIZE);
    public static final Ioctl KVM_IOEVENTFD = Ioctl.iow("KVM_IOEVENTFD", KVMIO, 0x79, KvmIoeventfd.SIZE);
    public static final Ioctl KVM_RUN = Ioctl.io("KVM_RUN", KVMIO, 0x80);
    public static final Ioctl KVM_GET_REGS = Ioctl.ior("KVM_GET_REGS", KVMIO, 0x81, KvmRegs.SIZE);
    public static final Ioctl KVM_SET_REGS = Ioctl.iow("KVM_SET_REGS", KVMIO, 0x82, KvmRegs.SIZE);
    public static final Ioctl KVM_GET_SREGS = Ioctl.ior("KVM_GET_SREGS", KVMIO, 0x83, KvmSregs.SIZE);
    public static final Ioctl KVM_SET_SREGS = Ioctl.iow("KVM_SET_SREGS", KVMIO, 0x84, KvmSregs.SIZE);

    public static final int KVM_API_VERSION = 12;

    public static final int KVM_CAP_IRQCHIP = 0;
    public static final int KVM_CAP_USER_MEMORY = 3;
    public static final int KVM_CAP_NR_MEMSLOTS = 10;
    public static final int KVM_CAP_IRQ_ROUTING = 25;
    public static final int KVM_CAP_IRQFD = 32;
    public static final int KVM_CAP_IOEVENTFD = 36;
    public static final int KVM_CAP_SIGNAL_MSI = 77;
    public static final int KVM_CAP_IRQFD_RESAMPLE = 82;
    public static final int KVM_CAP_IOEVENTFD_ANY_LENGTH = 122;

    public static final int KVM_EXIT_UNKNOWN = 0;
    public static final int KVM_EXIT_IO = 2;
    public static final int KVM_EXIT_HLT = 5;
    public static final int KVM_EXIT_MMIO = 6;
    public static final int KVM_EXIT_SHUTDOWN = 8;
    public static final int KVM_EXIT_FAIL_ENTRY = 9;
    public static final int KVM_EXIT_INTR = 10;
    public static final int KVM_EXIT_INTERNAL_ERROR = 17;
    public static final int KVM_EXIT_IO_IN = 0;
    public static final int KVM_EXIT_IO_OUT = 1;

    public static final int KVM_IOEVENTFD_FLAG_DATAMATCH = 1 << 0;
    public static final int KVM_IOEVENTFD_FLAG_PIO = 1 << 1;
    public static final int KVM_IOEVENTFD_FLAG_DEASSIGN = 1 << 2;
    public static final int KVM_IRQFD_FLAG_DEASSIGN = 1 << 0;
    public static final int KVM_IRQFD_FLAG_RESAMPLE = 1 << 1;
    public static final int KVM_IRQ_ROUTING_IRQCHIP = 1;
    public static final int KVM_IRQ_ROUTING_MSI = 2;
    public static final int KVM_IRQCHIP_PIC_MASTER = 0;
    public static final int KVM_IRQCHIP_PIC_SLAVE = 1;
    public static final int KVM_IRQCHIP_IOAPIC = 2;

    @CExpr("offsetof(struct kvm_run, exit_reason)")
    public static final int KVM_RUN_EXIT_REASON = 8;

    @CExpr("offsetof(struct kvm_run, io.direction)")
    public static final int KVM_RUN_IO_DIRECTION = 32;

    @CExpr("offsetof(struct kvm_run, io.size)")
    public static final int KVM_RUN_IO_SIZE = 33;

    @CExpr("offsetof(struct kvm_run, io.port)")
    public static final int KVM_RUN_IO_PORT = 34;

    @CExpr("offsetof(struct kvm_run, io.count)")
    public static final int KVM_RUN_IO_COUNT = 36;

    @CExpr("offsetof(struct kvm_run, io.data_offset)")
    public static final int KVM_RUN_IO_DATA_OFFSET = 40;

    @CExpr("offsetof(struct kvm_run, mmio.phys_addr)")
    public static final int KVM_RUN_MMIO_PHYS_ADDR = 32;

    @CExpr("offsetof(struct kvm_run, mmio.data)")
    public static final int KVM_RUN_MMIO_DATA = 40;

    @CExpr("offsetof(struct kvm_run, mmio.len)")
    public static final int KVM_RUN_MMIO_LEN = 48;

    @CExpr("offsetof(struct kvm_run, mmio.is_write)")
    public static final int KVM_RUN_MMIO_IS_WRITE = 52;

    @CExpr("offsetof(struct kvm_run, internal.suberror)")
    public static final int KVM_RUN_INTERNAL_SUBERROR = 32;

    /** {@code struct kvm_userspace_memory_region}: a memslot. */
    @CExpr("struct kvm_userspace_memory_region")
    @FieldOrder({"slot", "flags", "guest_phys_addr", "memory_size", "userspace_addr"})
    public static final class KvmUserspaceMemoryRegion extends Structure {
        public static final int SIZE = 32;
        public int slot;
        public int flags;
        public long guest_phys_addr;
        public long memory_size;
        public long userspace_addr;
    }

    /** {@code struct kvm_ioeventfd}: a guest PIO/MMIO write that signals an eventfd. */
    @CExpr("struct kvm_ioeventfd")
    @FieldOrder({"datamatch", "addr", "len", "fd", "flags", "pad"})
    public static final class KvmIoeventfd extends Structure {
        public static final int SIZE = 64;
        public long datamatch;
        public long addr;
        public int len;
        public int fd;
        public int flags;
        public byte[] pad = new byte[36];
    }

    /** {@code struct kvm_irqfd}: an eventfd that injects a GSI. */
    @CExpr("struct kvm_irqfd")
    @FieldOrder({"fd", "gsi", "flags", "resamplefd", "pad"})
    public static final class KvmIrqfd extends Structure {
        public static final int SIZE = 32;
        public int fd;
        public int gsi;
        public int flags;
        public int resamplefd;
        public byte[] pad = new byte[16];
    }

    /**
     * {@code struct kvm_irq_routing_entry}. The union {@code u} is eight words: for
     * {@code KVM_IRQ_ROUTING_IRQCHIP} {irqchip, pin}; for {@code KVM_IRQ_ROUTING_MSI}
     * {address_lo, address_hi, data, devid}.
     */
    @CExpr("struct kvm_irq_routing_entry")
    @FieldOrder({"gsi", "type", "flags", "pad", "u"})
    public static final class KvmIrqRoutingEntry extends Structure {
        public static final int SIZE = 48;
        public int gsi;
        public int type;
        public int flags;
        public int pad;
        public int[] u = new int[8];

        public KvmIrqRoutingEntry() {}

        /** An entry laid over native memory (an element of a routing table). */
        public KvmIrqRoutingEntry(com.sun.jna.Pointer p) {
            super(p);
        }

        /** Sets the union word at {@code offset} from the start of the entry (a {@code KVM_IRQ_ROUTING_ENTRY_*} offset). */
        public void putUnionWord(int offset, int value) {
            u[(offset - fieldOffset("u")) / 4] = value;
        }
    }

    @CExpr("offsetof(struct kvm_irq_routing_entry, u.irqchip.irqchip)")
    public static final int KVM_IRQ_ROUTING_ENTRY_IRQCHIP = 16;

    @CExpr("offsetof(struct kvm_irq_routing_entry, u.irqchip.pin)")
    public static final int KVM_IRQ_ROUTING_ENTRY_PIN = 20;

    @CExpr("offsetof(struct kvm_irq_routing_entry, u.msi.address_lo)")
    public static final int KVM_IRQ_ROUTING_ENTRY_MSI_ADDRESS_LO = 16;

    @CExpr("offsetof(struct kvm_irq_routing_entry, u.msi.address_hi)")
    public static final int KVM_IRQ_ROUTING_ENTRY_MSI_ADDRESS_HI = 20;

    @CExpr("offsetof(struct kvm_irq_routing_entry, u.msi.data)")
    public static final int KVM_IRQ_ROUTING_ENTRY_MSI_DATA = 24;

    /** {@code struct kvm_irq_routing}: the header before {@code nr} {@link KvmIrqRoutingEntry}s. */
    @CExpr("struct kvm_irq_routing")
    @FieldOrder({"nr", "flags"})
    public static final class KvmIrqRouting extends Structure {
        public static final int SIZE = 8;
        public int nr;
        public int flags;
    }

    /** {@code struct kvm_regs}: general-purpose registers. */
    @CExpr("struct kvm_regs")
    @FieldOrder({
        "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
        "rip", "rflags"
    })
    public static final class KvmRegs extends Structure {
        public static final int SIZE = 144;
        public long rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
        public long r8, r9, r10, r11, r12, r13, r14, r15;
        public long rip, rflags;
    }

    /** {@code struct kvm_segment}. */
    @CExpr("struct kvm_segment")
    @FieldOrder({
        "base",
        "limit",
        "selector",
        "type",
        "present",
        "dpl",
        "db",
        "s",
        "l",
        "g",
        "avl",
        "unusable",
        "padding"
    })
    public static class KvmSegment extends Structure {
        public long base;
        public int limit;
        public short selector;
        public byte type, present, dpl, db, s, l, g, avl, unusable, padding;
    }

    /** {@code struct kvm_dtable}. */
    @CExpr("struct kvm_dtable")
    @FieldOrder({"base", "limit", "padding"})
    public static class KvmDtable extends Structure {
        public long base;
        public short limit;
        public short[] padding = new short[3];
    }

    /** {@code struct kvm_sregs}: segment and control registers. */
    @CExpr("struct kvm_sregs")
    @FieldOrder({
        "cs",
        "ds",
        "es",
        "fs",
        "gs",
        "ss",
        "tr",
        "ldt",
        "gdt",
        "idt",
        "cr0",
        "cr2",
        "cr3",
        "cr4",
        "cr8",
        "efer",
        "apic_base",
        "interrupt_bitmap"
    })
    public static final class KvmSregs extends Structure {
        public static final int SIZE = 312;
        public KvmSegment cs = new KvmSegment();
        public KvmSegment ds = new KvmSegment();
        public KvmSegment es = new KvmSegment();
        public KvmSegment fs = new KvmSegment();
        public KvmSegment gs = new KvmSegment();
        public KvmSegment ss = new KvmSegment();
        public KvmSegment tr = new KvmSegment();
        public KvmSegment ldt = new KvmSegment();
        public KvmDtable gdt = new KvmDtable();
        public KvmDtable idt = new KvmDtable();
        public long cr0, cr2, cr3, cr4, cr8, efer, apic_base;
        public long[] interrupt_bitmap = new long[4];
    }
}
