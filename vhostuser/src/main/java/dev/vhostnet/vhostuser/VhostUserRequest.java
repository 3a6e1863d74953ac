package dev.vhostnet.vhostuser;

import com.google.common.collect.ImmutableMap;
import java.util.Arrays;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Front-end request types of the vhost-user protocol, with the id each has on the wire and the size
 * of the reply it always has (-1: none, unless {@code REPLY_ACK} asks for one).
 *
 * <p>Ids and reply payloads from QEMU's {@code docs/interop/vhost-user.rst}, section "Front-end
 * message types" (the {@code :id:} and {@code :reply payload:} of each entry), cross-checked against
 * QEMU's {@code enum VhostUserRequest} (hw/virtio/vhost-user.c, 1-40) and rust-vmm's
 * {@code vhost/src/vhost_user/message.rs} ({@code MasterReq} in the version read, 1-30; newer ones
 * call it {@code FrontendReq}). Only the requests this front-end knows are listed; the spec has more.
 */
public enum VhostUserRequest {
    GET_FEATURES(1, 8),
    SET_FEATURES(2, -1),
    SET_OWNER(3, -1),
    RESET_OWNER(4, -1),
    SET_MEM_TABLE(5, -1),
    SET_LOG_BASE(6, -1),
    SET_LOG_FD(7, -1),
    SET_VRING_NUM(8, -1),
    SET_VRING_ADDR(9, -1),
    SET_VRING_BASE(10, -1),
    /** Reply: a vring state (index, num). */
    GET_VRING_BASE(11, 8),
    SET_VRING_KICK(12, -1),
    SET_VRING_CALL(13, -1),
    SET_VRING_ERR(14, -1),
    GET_PROTOCOL_FEATURES(15, 8),
    SET_PROTOCOL_FEATURES(16, -1),
    GET_QUEUE_NUM(17, 8),
    SET_VRING_ENABLE(18, -1),
    SEND_RARP(19, -1),
    NET_SET_MTU(20, -1),
    /** Reply: the config space header and as many bytes as asked for (checked per call). */
    GET_CONFIG(24, -2),
    SET_CONFIG(25, -1),
    GET_MAX_MEM_SLOTS(36, 8);

    private static final ImmutableMap<Integer, VhostUserRequest> BY_ID = ImmutableMap.copyOf(
            Arrays.stream(values()).collect(Collectors.toMap(VhostUserRequest::id, Function.identity())));

    private final int id;
    private final int replySize;

    VhostUserRequest(int id, int replySize) {
        this.id = id;
        this.replySize = replySize;
    }

    /** The {@code request} field of the header. */
    public int id() {
        return id;
    }

    /** Whether the back-end always answers this request (whatever {@code NEED_REPLY} says). */
    public boolean hasReply() {
        return replySize != -1;
    }

    /** The exact payload size of the reply, or -1 (no reply) / -2 (variable, checked by the caller). */
    public int replySize() {
        return replySize;
    }

    /** The request with wire id {@code id}, or {@code null}. */
    public static VhostUserRequest of(int id) {
        return BY_ID.get(id);
    }

    /** The spec's name, {@code VHOST_USER_} and all. */
    public String specName() {
        return "VHOST_USER_" + name();
    }
}
