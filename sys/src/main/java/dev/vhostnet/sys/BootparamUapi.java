package dev.vhostnet.sys;

/**
 * {@code <asm/bootparam.h>}: the x86 Linux boot protocol's zero page ({@code struct boot_params})
 * and its {@code struct setup_header}, as offsets from the start of the zero page (the setup
 * header sits at the same offset, 0x1f1, in a bzImage file). Documentation/arch/x86/boot.rst
 * describes each field.
 */
public final class BootparamUapi {
    private BootparamUapi() {}

    @CExpr("sizeof(struct boot_params)")
    public static final int BOOT_PARAMS_SIZE = 4096;

    @CExpr("offsetof(struct boot_params, ext_ramdisk_image)")
    public static final int EXT_RAMDISK_IMAGE = 0x0c0;

    @CExpr("offsetof(struct boot_params, ext_ramdisk_size)")
    public static final int EXT_RAMDISK_SIZE = 0x0c4;

    @CExpr("offsetof(struct boot_params, ext_cmd_line_ptr)")
    public static final int EXT_CMD_LINE_PTR = 0x0c8;

    @CExpr("offsetof(struct boot_params, e820_entries)")
    public static final int E820_ENTRIES = 0x1e8;

    @CExpr("offsetof(struct boot_params, hdr)")
    public static final int HDR = 0x1f1;

    @CExpr("offsetof(struct boot_params, hdr.setup_sects)")
    public static final int SETUP_SECTS = 0x1f1;

    @CExpr("offsetof(struct boot_params, hdr.boot_flag)")
    public static final int BOOT_FLAG = 0x1fe;

    @CExpr("offsetof(struct boot_params, hdr.jump)")
    public static final int JUMP = 0x200;

    @CExpr("offsetof(struct boot_params, hdr.header)")
    public static final int HEADER = 0x202;

    @CExpr("offsetof(struct boot_params, hdr.version)")
    public static final int VERSION = 0x206;

    @CExpr("offsetof(struct boot_params, hdr.type_of_loader)")
    public static final int TYPE_OF_LOADER = 0x210;

    @CExpr("offsetof(struct boot_params, hdr.loadflags)")
    public static final int LOADFLAGS = 0x211;

    @CExpr("offsetof(struct boot_params, hdr.code32_start)")
    public static final int CODE32_START = 0x214;

    @CExpr("offsetof(struct boot_params, hdr.ramdisk_image)")
    public static final int RAMDISK_IMAGE = 0x218;

    @CExpr("offsetof(struct boot_params, hdr.ramdisk_size)")
    public static final int RAMDISK_SIZE = 0x21c;

    @CExpr("offsetof(struct boot_params, hdr.heap_end_ptr)")
    public static final int HEAP_END_PTR = 0x224;

    @CExpr("offsetof(struct boot_params, hdr.cmd_line_ptr)")
    public static final int CMD_LINE_PTR = 0x228;

    @CExpr("offsetof(struct boot_params, hdr.initrd_addr_max)")
    public static final int INITRD_ADDR_MAX = 0x22c;

    @CExpr("offsetof(struct boot_params, hdr.kernel_alignment)")
    public static final int KERNEL_ALIGNMENT = 0x230;

    @CExpr("offsetof(struct boot_params, hdr.relocatable_kernel)")
    public static final int RELOCATABLE_KERNEL = 0x234;

    @CExpr("offsetof(struct boot_params, hdr.xloadflags)")
    public static final int XLOADFLAGS = 0x236;

    @CExpr("offsetof(struct boot_params, hdr.cmdline_size)")
    public static final int CMDLINE_SIZE = 0x238;

    @CExpr("offsetof(struct boot_params, hdr.pref_address)")
    public static final int PREF_ADDRESS = 0x258;

    @CExpr("offsetof(struct boot_params, hdr.init_size)")
    public static final int INIT_SIZE = 0x260;

    @CExpr("offsetof(struct boot_params, e820_table)")
    public static final int E820_TABLE = 0x2d0;

    @CExpr("sizeof(struct boot_e820_entry)")
    public static final int BOOT_E820_ENTRY_SIZE = 20;

    public static final int E820_MAX_ENTRIES_ZEROPAGE = 128;
    public static final int LOADED_HIGH = 1 << 0;
    public static final int CAN_USE_HEAP = 1 << 7;
    public static final int XLF_KERNEL_64 = 1 << 0;
    public static final int XLF_CAN_BE_LOADED_ABOVE_4G = 1 << 1;
}
