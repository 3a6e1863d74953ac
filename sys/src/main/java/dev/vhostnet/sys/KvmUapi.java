package dev.vhostnet.sys;

import com.sun.jna.Structure;
import com.sun.jna.Structure.FieldOrder;

/** {@code <linux/kvm.h>} (x86-64): the ioctls, capabilities, exit reasons and structs the project uses. */
public final class KvmUapi {
    private KvmUapi() {}

    public static final int KVMIO = 0xAE;

    /** {@code struct kvm_lapic_state}: the local APIC's register page, {@code char regs[KVM_APIC_REG_SIZE]}. */
    @CExpr("sizeof(struct kvm_lapic_state)")
    public static final int KVM_APIC_REG_SIZE = 0x400;

    public static final Ioctl KVM_GET_API_VERSION = Ioctl.io("KVM_GET_API_VERSION", KVMIO, 0x00);
    public static final Ioctl KVM_CREATE_VM = Ioctl.io("KVM_CREATE_VM", KVMIO, 0x01);
    public static final Ioctl KVM_CHECK_EXTENSION = Ioctl.io("KVM_CHECK_EXTENSION", KVMIO, 0x03);
    public static final Ioctl KVM_GET_VCPU_MMAP_SIZE = Ioctl.io("KVM_GET_VCPU_MMAP_SIZE", KVMIO, 0x04);
    public static final Ioctl KVM_GET_SUPPORTED_CPUID =
            Ioctl.iowr("KVM_GET_SUPPORTED_CPUID", KVMIO, 0x05, KvmCpuid2.SIZE);
    public static final Ioctl KVM_CREATE_VCPU = Ioctl.io("KVM_CREATE_VCPU", KVMIO, 0x41);
    public static final Ioctl KVM_SET_USER_MEMORY_REGION =
            Ioctl.iow("KVM_SET_USER_MEMORY_REGION", KVMIO, 0x46, KvmUserspaceMemoryRegion.SIZE);
    public static final Ioctl KVM_SET_TSS_ADDR = Ioctl.io("KVM_SET_TSS_ADDR", KVMIO, 0x47);
    public static final Ioctl KVM_SET_IDENTITY_MAP_ADDR = Ioctl.iow("KVM_SET_IDENTITY_MAP_ADDR", KVMIO, 0x48, 8);
    public static final Ioctl KVM_CREATE_IRQCHIP = Ioctl.io("KVM_CREATE_IRQCHIP", KVMIO, 0x60);
    public static final Ioctl KVM_IRQ_LINE = Ioctl.iow("KVM_IRQ_LINE", KVMIO, 0x61, KvmIrqLevel.SIZE);
    public static final Ioctl KVM_SET_GSI_ROUTING = Ioctl.iow("KVM_SET_GSI_ROUTING", KVMIO, 0x6a, KvmIrqRouting.SIZE);
    public static final Ioctl KVM_IRQFD = Ioctl.iow("KVM_IRQFD", KVMIO, 0x76, KvmIrqfd.SIZE);
    public static final Ioctl KVM_CREATE_PIT2 = Ioctl.iow("KVM_CREATE_PIT2", KVMIO, 0x77, KvmPitConfig.SIZE);
    /** Declared {@code _IO} in the header although it takes a {@code struct kvm_reinject_control}. */
    public static final Ioctl KVM_REINJECT_CONTROL = Ioctl.io("KVM_REINJECT_CONTROL", KVMIO, 0x71);

    public static final Ioctl KVM_IOEVENTFD = Ioctl.iow("KVM_IOEVENTFD", KVMIO, 0x79, KvmIoeventfd.SIZE);
    public static final Ioctl KVM_RUN = Ioctl.io("KVM_RUN", KVMIO, 0x80);
    public static final Ioctl KVM_GET_REGS = Ioctl.ior("KVM_GET_REGS", KVMIO, 0x81, KvmRegs.SIZE);
    public static final Ioctl KVM_SET_REGS = Ioctl.iow("KVM_SET_REGS", KVMIO, 0x82, KvmRegs.SIZE);
    public static final Ioctl KVM_GET_SREGS = Ioctl.ior("KVM_GET_SREGS", KVMIO, 0x83, KvmSregs.SIZE);
    public static final Ioctl KVM_SET_SREGS = Ioctl.iow("KVM_SET_SREGS", KVMIO, 0x84, KvmSregs.SIZE);
    public static final Ioctl KVM_TRANSLATE = Ioctl.iowr("KVM_TRANSLATE", KVMIO, 0x85, KvmTranslation.SIZE);
    public static final Ioctl KVM_SET_MSRS = Ioctl.iow("KVM_SET_MSRS", KVMIO, 0x89, KvmMsrs.SIZE);
    public static final Ioctl KVM_SET_FPU = Ioctl.iow("KVM_SET_FPU", KVMIO, 0x8d, KvmFpu.SIZE);
    public static final Ioctl KVM_GET_MP_STATE = Ioctl.ior("KVM_GET_MP_STATE", KVMIO, 0x98, 4);
    public static final Ioctl KVM_GET_LAPIC = Ioctl.ior("KVM_GET_LAPIC", KVMIO, 0x8e, KVM_APIC_REG_SIZE);
    public static final Ioctl KVM_SET_LAPIC = Ioctl.iow("KVM_SET_LAPIC", KVMIO, 0x8f, KVM_APIC_REG_SIZE);
    public static final Ioctl KVM_SET_CPUID2 = Ioctl.iow("KVM_SET_CPUID2", KVMIO, 0x90, KvmCpuid2.SIZE);

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
    public static final int KVM_CAP_SET_TSS_ADDR = 4;
    public static final int KVM_CAP_EXT_CPUID = 7;
    public static final int KVM_CAP_PIT2 = 33;
    public static final int KVM_CAP_REINJECT_CONTROL = 24;
    public static final int KVM_CAP_SET_IDENTITY_MAP_ADDR = 37;

    /** {@code struct kvm_mp_state}: the vCPU waits in {@code hlt} for an interrupt. */
    public static final int KVM_MP_STATE_HALTED = 3;

    /** {@code kvm_pit_config.flags}: port 0x61 (the PC speaker) reads as a dummy in the kernel. */
    public static final int KVM_PIT_SPEAKER_DUMMY = 1;

    public static final int KVM_EXIT_UNKNOWN = 0;
    public static final int KVM_EXIT_IO = 2;
    public static final int KVM_EXIT_HLT = 5;
    public static final int KVM_EXIT_MMIO = 6;
    public static final int KVM_EXIT_SHUTDOWN = 8;
    public static final int KVM_EXIT_FAIL_ENTRY = 9;
    public static final int KVM_EXIT_INTR = 10;
    public static final int KVM_EXIT_INTERNAL_ERROR = 17;
    public static final int KVM_EXIT_SYSTEM_EVENT = 24;
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

    @CExpr("offsetof(struct kvm_run, immediate_exit)")
    public static final int KVM_RUN_IMMEDIATE_EXIT = 1;

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

    /** {@code struct kvm_irq_level}: {@code KVM_IRQ_LINE}'s argument, a GSI and the level to drive it to. */
    @CExpr("struct kvm_irq_level")
    @FieldOrder({"irq", "level"})
    public static final class KvmIrqLevel extends Structure {
        public static final int SIZE = 8;
        public int irq;
        public int level;
    }

    /** {@code struct kvm_cpuid2}: the header before {@code nent} {@link KvmCpuidEntry2}s. */
    @CExpr("struct kvm_cpuid2")
    @FieldOrder({"nent", "padding"})
    public static final class KvmCpuid2 extends Structure {
        public static final int SIZE = 8;
        public int nent;
        public int padding;
    }

    /** {@code struct kvm_cpuid_entry2}: one CPUID leaf (and subleaf, {@code index}). */
    @CExpr("struct kvm_cpuid_entry2")
    @FieldOrder({"function", "index", "flags", "eax", "ebx", "ecx", "edx", "padding"})
    public static final class KvmCpuidEntry2 extends Structure {
        public static final int SIZE = 40;
        public int function;
        public int index;
        public int flags;
        public int eax, ebx, ecx, edx;
        public int[] padding = new int[3];

        public KvmCpuidEntry2() {}

        /** An entry laid over native memory (an element of a {@code kvm_cpuid2} array). */
        public KvmCpuidEntry2(com.sun.jna.Pointer p) {
            super(p);
        }
    }

    /** {@code kvm_cpuid_entry2.flags}: the leaf has subleaves, told apart by {@code index}. */
    public static final int KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 1;

    /** {@code struct kvm_pit_config}: {@code KVM_CREATE_PIT2}'s argument. */
    @CExpr("struct kvm_pit_config")
    @FieldOrder({"flags", "pad"})
    public static final class KvmPitConfig extends Structure {
        public static final int SIZE = 64;
        public int flags;
        public int[] pad = new int[15];
    }

    /** {@code struct kvm_translation}: {@code KVM_TRANSLATE}'s guest virtual address in, its physical one out. */
    @CExpr("struct kvm_translation")
    @FieldOrder({"linear_address", "physical_address", "valid", "writeable", "usermode", "pad"})
    public static final class KvmTranslation extends Structure {
        public static final int SIZE = 24;
        public long linear_address;
        public long physical_address;
        public byte valid;
        public byte writeable;
        public byte usermode;
        public byte[] pad = new byte[5];
    }

    /** {@code struct kvm_reinject_control}: {@code KVM_REINJECT_CONTROL}'s argument. */
    @CExpr("struct kvm_reinject_control")
    @FieldOrder({"pit_reinject", "reserved"})
    public static final class KvmReinjectControl extends Structure {
        public static final int SIZE = 32;
        public byte pit_reinject;
        public byte[] reserved = new byte[31];
    }

    /** {@code struct kvm_msrs}: the header before {@code nmsrs} {@link KvmMsrEntry}s. */
    @CExpr("struct kvm_msrs")
    @FieldOrder({"nmsrs", "pad"})
    public static final class KvmMsrs extends Structure {
        public static final int SIZE = 8;
        public int nmsrs;
        public int pad;
    }

    /** {@code struct kvm_msr_entry}: one model-specific register. */
    @CExpr("struct kvm_msr_entry")
    @FieldOrder({"index", "reserved", "data"})
    public static final class KvmMsrEntry extends Structure {
        public static final int SIZE = 16;
        public int index;
        public int reserved;
        public long data;

        public KvmMsrEntry() {}

        /** An entry laid over native memory (an element of a {@code kvm_msrs} array). */
        public KvmMsrEntry(com.sun.jna.Pointer p) {
            super(p);
        }
    }

    /** {@code struct kvm_fpu}: x87 and SSE state. */
    @CExpr("struct kvm_fpu")
    @FieldOrder({"fpr", "fcw", "fsw", "ftwx", "pad1", "last_opcode", "last_ip", "last_dp", "xmm", "mxcsr", "pad2"})
    public static final class KvmFpu extends Structure {
        public static final int SIZE = 416;
        public byte[] fpr = new byte[128];
        public short fcw;
        public short fsw;
        public byte ftwx;
        public byte pad1;
        public short last_opcode;
        public long last_ip;
        public long last_dp;
        public byte[] xmm = new byte[256];
        public int mxcsr;
        public int pad2;
    }
}
