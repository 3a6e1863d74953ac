package dev.vhostnet.broker;

import java.io.IOException;

/** A message that breaks the broker protocol; carries the error code the reply will have. */
public final class ProtocolException extends IOException {
    private static final long serialVersionUID = 1L;

    private final BrokerReply.Code code;

    public ProtocolException(BrokerReply.Code code, String message) {
        super(message);
        this.code = code;
    }

    public BrokerReply.Code code() {
        return code;
    }
}
