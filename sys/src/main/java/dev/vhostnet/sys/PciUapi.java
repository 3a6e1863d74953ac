package dev.vhostnet.sys;

/**
 * {@code <linux/pci_regs.h>}: the type 0 configuration header, the capability list, memory BAR
 * flags and the MSI-X capability, table entry and pending bit array.
 */
public final class PciUapi {
    private PciUapi() {}

    public static final int PCI_CFG_SPACE_SIZE = 256;
    public static final int PCI_STD_HEADER_SIZEOF = 64;

    public static final int PCI_VENDOR_ID = 0x00;
    public static final int PCI_DEVICE_ID = 0x02;
    public static final int PCI_COMMAND = 0x04;
    public static final int PCI_COMMAND_IO = 0x1;
    public static final int PCI_COMMAND_MEMORY = 0x2;
    public static final int PCI_COMMAND_MASTER = 0x4;
    public static final int PCI_COMMAND_INTX_DISABLE = 0x400;
    public static final int PCI_STATUS = 0x06;
    public static final int PCI_STATUS_CAP_LIST = 0x10;
    public static final int PCI_REVISION_ID = 0x08;
    public static final int PCI_CLASS_PROG = 0x09;
    public static final int PCI_CLASS_DEVICE = 0x0a;
    public static final int PCI_HEADER_TYPE = 0x0e;
    public static final int PCI_HEADER_TYPE_NORMAL = 0;
    public static final int PCI_BASE_ADDRESS_0 = 0x10;
    public static final int PCI_BASE_ADDRESS_1 = 0x14;
    public static final int PCI_BASE_ADDRESS_5 = 0x24;
    public static final int PCI_BASE_ADDRESS_SPACE_MEMORY = 0x00;
    public static final int PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x04;
    public static final int PCI_BASE_ADDRESS_MEM_PREFETCH = 0x08;
    public static final int PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
    public static final int PCI_SUBSYSTEM_ID = 0x2e;
    public static final int PCI_ROM_ADDRESS = 0x30;
    public static final int PCI_CAPABILITY_LIST = 0x34;
    public static final int PCI_INTERRUPT_LINE = 0x3c;
    public static final int PCI_INTERRUPT_PIN = 0x3d;

    public static final int PCI_CAP_LIST_ID = 0;
    public static final int PCI_CAP_LIST_NEXT = 1;
    public static final int PCI_CAP_FLAGS = 2;
    public static final int PCI_CAP_ID_VNDR = 0x09;
    public static final int PCI_CAP_ID_MSIX = 0x11;

    public static final int PCI_MSIX_FLAGS = 2;
    public static final int PCI_MSIX_FLAGS_QSIZE = 0x07ff;
    public static final int PCI_MSIX_FLAGS_MASKALL = 0x4000;
    public static final int PCI_MSIX_FLAGS_ENABLE = 0x8000;
    public static final int PCI_MSIX_TABLE = 4;
    public static final int PCI_MSIX_TABLE_BIR = 0x00000007;
    public static final int PCI_MSIX_PBA = 8;
    public static final int PCI_CAP_MSIX_SIZEOF = 12;
    public static final int PCI_MSIX_ENTRY_SIZE = 16;
    public static final int PCI_MSIX_ENTRY_LOWER_ADDR = 0x0;
    public static final int PCI_MSIX_ENTRY_UPPER_ADDR = 0x4;
    public static final int PCI_MSIX_ENTRY_DATA = 0x8;
    public static final int PCI_MSIX_ENTRY_VECTOR_CTRL = 0xc;
    public static final int PCI_MSIX_ENTRY_CTRL_MASKBIT = 0x1;
}
