package dev.vhostnet.eventfd;

import dev.vhostnet.sys.KvmUapi;

/**
 * Why {@code KVM_RUN} returned, read from {@code struct kvm_run}: the reason and, for port and
 * MMIO exits, the access ({@code port}/{@code address}, {@code size}, {@code write}, {@code data}).
 */
public record VcpuExit(int reason, long address, int size, boolean write, long data) {
    public boolean isIo() {
        return reason == KvmUapi.KVM_EXIT_IO;
    }

    public boolean isMmio() {
        return reason == KvmUapi.KVM_EXIT_MMIO;
    }

    @Override
    public String toString() {
        return switch (reason) {
            case KvmUapi.KVM_EXIT_IO ->
                String.format("IO %s port 0x%x size %d data 0x%x", write ? "out" : "in", address, size, data);
            case KvmUapi.KVM_EXIT_MMIO ->
                String.format("MMIO %s 0x%x size %d data 0x%x", write ? "write" : "read", address, size, data);
            case KvmUapi.KVM_EXIT_HLT -> "HLT";
            case KvmUapi.KVM_EXIT_SHUTDOWN -> "SHUTDOWN (triple fault)";
            case KvmUapi.KVM_EXIT_INTR -> "INTR";
            case KvmUapi.KVM_EXIT_FAIL_ENTRY -> "FAIL_ENTRY";
            case KvmUapi.KVM_EXIT_INTERNAL_ERROR -> "INTERNAL_ERROR suberror " + data;
            default -> "exit reason " + reason;
        };
    }
}
