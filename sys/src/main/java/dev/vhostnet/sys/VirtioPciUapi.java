package dev.vhostnet.sys;

import com.sun.jna.Structure;
import com.sun.jna.Structure.FieldOrder;

/**
 * {@code <linux/virtio_pci.h>} (modern): the vendor capabilities that point the driver into a BAR,
 * the layout of {@code struct virtio_pci_common_cfg}, and the ISR bits.
 */
public final class VirtioPciUapi {
    private VirtioPciUapi() {}

    public static final int VIRTIO_PCI_CAP_COMMON_CFG = 1;
    public static final int VIRTIO_PCI_CAP_NOTIFY_CFG = 2;
    public static final int VIRTIO_PCI_CAP_ISR_CFG = 3;
    public static final int VIRTIO_PCI_CAP_DEVICE_CFG = 4;
    public static final int VIRTIO_PCI_CAP_PCI_CFG = 5;

    public static final int VIRTIO_PCI_CAP_VNDR = 0;
    public static final int VIRTIO_PCI_CAP_NEXT = 1;
    public static final int VIRTIO_PCI_CAP_LEN = 2;
    public static final int VIRTIO_PCI_CAP_CFG_TYPE = 3;
    public static final int VIRTIO_PCI_CAP_BAR = 4;
    public static final int VIRTIO_PCI_CAP_OFFSET = 8;
    public static final int VIRTIO_PCI_CAP_LENGTH = 12;
    public static final int VIRTIO_PCI_NOTIFY_CAP_MULT = 16;

    @CExpr("offsetof(struct virtio_pci_cfg_cap, pci_cfg_data)")
    public static final int VIRTIO_PCI_CFG_CAP_DATA = 16;

    public static final int VIRTIO_PCI_COMMON_DFSELECT = 0;
    public static final int VIRTIO_PCI_COMMON_DF = 4;
    public static final int VIRTIO_PCI_COMMON_GFSELECT = 8;
    public static final int VIRTIO_PCI_COMMON_GF = 12;
    public static final int VIRTIO_PCI_COMMON_MSIX = 16;
    public static final int VIRTIO_PCI_COMMON_NUMQ = 18;
    public static final int VIRTIO_PCI_COMMON_STATUS = 20;
    public static final int VIRTIO_PCI_COMMON_CFGGENERATION = 21;
    public static final int VIRTIO_PCI_COMMON_Q_SELECT = 22;
    public static final int VIRTIO_PCI_COMMON_Q_SIZE = 24;
    public static final int VIRTIO_PCI_COMMON_Q_MSIX = 26;
    public static final int VIRTIO_PCI_COMMON_Q_ENABLE = 28;
    public static final int VIRTIO_PCI_COMMON_Q_NOFF = 30;
    public static final int VIRTIO_PCI_COMMON_Q_DESCLO = 32;
    public static final int VIRTIO_PCI_COMMON_Q_DESCHI = 36;
    public static final int VIRTIO_PCI_COMMON_Q_AVAILLO = 40;
    public static final int VIRTIO_PCI_COMMON_Q_AVAILHI = 44;
    public static final int VIRTIO_PCI_COMMON_Q_USEDLO = 48;
    public static final int VIRTIO_PCI_COMMON_Q_USEDHI = 52;

    /** ISR bit 1: a configuration change (bit 0, a used buffer, has no macro). */
    public static final int VIRTIO_PCI_ISR_CONFIG = 0x2;
    /** A queue or configuration vector that raises no MSI-X message. */
    public static final int VIRTIO_MSI_NO_VECTOR = 0xffff;

    /** {@code struct virtio_pci_cap}: where in which BAR one virtio structure lies. */
    @CExpr("struct virtio_pci_cap")
    @FieldOrder({"cap_vndr", "cap_next", "cap_len", "cfg_type", "bar", "id", "padding", "offset", "length"})
    public static class VirtioPciCap extends Structure {
        public static final int SIZE = 16;
        public byte cap_vndr;
        public byte cap_next;
        public byte cap_len;
        public byte cfg_type;
        public byte bar;
        public byte id;
        public byte[] padding = new byte[2];
        public int offset;
        public int length;
    }

    /** {@code struct virtio_pci_notify_cap}: the notify capability with its queue offset multiplier. */
    @CExpr("struct virtio_pci_notify_cap")
    @FieldOrder({"cap", "notify_off_multiplier"})
    public static final class VirtioPciNotifyCap extends Structure {
        public static final int SIZE = 20;
        public VirtioPciCap cap = new VirtioPciCap();
        public int notify_off_multiplier;
    }

    /** {@code struct virtio_pci_cfg_cap}: a window into the BARs through configuration space. */
    @CExpr("struct virtio_pci_cfg_cap")
    @FieldOrder({"cap", "pci_cfg_data"})
    public static final class VirtioPciCfgCap extends Structure {
        public static final int SIZE = 20;
        public VirtioPciCap cap = new VirtioPciCap();
        public byte[] pci_cfg_data = new byte[4];
    }

    /** {@code struct virtio_pci_common_cfg}: the device-wide and per-queue registers (the {@code VIRTIO_PCI_COMMON_*} offsets). */
    @CExpr("struct virtio_pci_common_cfg")
    @FieldOrder({
        "device_feature_select",
        "device_feature",
        "guest_feature_select",
        "guest_feature",
        "msix_config",
        "num_queues",
        "device_status",
        "config_generation",
        "queue_select",
        "queue_size",
        "queue_msix_vector",
        "queue_enable",
        "queue_notify_off",
        "queue_desc_lo",
        "queue_desc_hi",
        "queue_avail_lo",
        "queue_avail_hi",
        "queue_used_lo",
        "queue_used_hi"
    })
    public static final class VirtioPciCommonCfg extends Structure {
        public static final int SIZE = 56;
        public int device_feature_select;
        public int device_feature;
        public int guest_feature_select;
        public int guest_feature;
        public short msix_config;
        public short num_queues;
        public byte device_status;
        public byte config_generation;
        public short queue_select;
        public short queue_size;
        public short queue_msix_vector;
        public short queue_enable;
        public short queue_notify_off;
        public int queue_desc_lo;
        public int queue_desc_hi;
        public int queue_avail_lo;
        public int queue_avail_hi;
        public int queue_used_lo;
        public int queue_used_hi;
    }
}
