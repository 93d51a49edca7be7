#pragma once

#include <QByteArray>
#include <QString>

namespace Runwatch {

// The server side of RFC 6455 framing, as plain functions and one incremental reader, with no
// socket: fuzzed and unit tested as is. The server reads and writes WebSocket frames itself, on
// the TCP (or TLS) socket an upgrade left it. QWebSocket 6.4 accepts unmasked client frames (RFC
// 6455 section 5.1 says the server must fail such a connection), decodes every text message to
// UTF-16 only for the server to encode it back to UTF-8 for the JSON parser, and gives no way to
// bound a message by the peer's role while it arrives (README, "Threads", has the reasons).
namespace WsFrames {

enum Opcode : quint8 { Continuation = 0x0, Text = 0x1, Binary = 0x2, Close = 0x8, Ping = 0x9, Pong = 0xA };

// Close codes the server uses (RFC 6455 section 7.4.1 and the contract's own 4xxx).
enum CloseCode : quint16 {
    CloseNormal = 1000,
    CloseGoingAway = 1001,
    CloseProtocolError = 1002,
    CloseUnsupportedData = 1003,
    CloseInvalidPayload = 1007,
    ClosePolicyViolation = 1008,
    CloseTooBig = 1009,
};

// An unmasked, unfragmented server frame: header and payload.
QByteArray frameHeader(Opcode opcode, quint64 payloadLength);
QByteArray frame(Opcode opcode, const QByteArray &payload);
QByteArray closeFrame(quint16 code, const QString &reason);

// Whether the bytes are well-formed UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF).
bool isValidUtf8(const char *data, qsizetype size);
// A close code a peer may send (RFC 6455 section 7.4).
bool isValidCloseCode(quint16 code);
// Sec-WebSocket-Accept for a Sec-WebSocket-Key.
QByteArray acceptKey(const QByteArray &key);
// A key must be the base64 text of 16 bytes.
bool isValidKey(const QByteArray &key);

// Reads a client's frames from the bytes of its connection, as they arrive: reassembles fragmented
// messages, unmasks payloads and checks everything a server must check. After an error, it reads
// nothing more.
class Reader
{
public:
    struct Message {
        enum class Kind { None, Text, Binary, Ping, Pong, Close, Error };
        Kind kind = Kind::None;
        QByteArray payload;     // the message (Text: valid UTF-8), a control frame's payload, a close reason
        quint16 closeCode = 0;  // Close: the peer's code (0 when it gave none); Error: the code to close with
        QString error;          // Error: what was wrong
    };

    explicit Reader(qint64 maxMessageBytes) : m_maxMessage(maxMessageBytes) {}

    // The largest message (all fragments together) from now on; a message that is already larger
    // when its next frame header arrives fails with 1009.
    void setMaxMessageBytes(qint64 bytes) { m_maxMessage = bytes; }
    qint64 maxMessageBytes() const { return m_maxMessage; }

    // Appends received bytes.
    void feed(const char *data, qsizetype size);
    void feed(const QByteArray &bytes) { feed(bytes.constData(), bytes.size()); }
    // The next complete message, control frame, or error; false when more bytes are needed.
    bool next(Message *out);
    // Bytes held: unread input and the parts of a fragmented message.
    qint64 bufferedBytes() const { return m_buffer.size() - m_offset + m_message.size(); }
    bool failed() const { return m_failed; }

private:
    bool fail(Message *out, quint16 code, const QString &why);

    qint64 m_maxMessage;
    QByteArray m_buffer;  // received, from m_offset on not yet read
    qsizetype m_offset = 0;
    QByteArray m_message; // fragments of a message so far
    Opcode m_messageOpcode = Continuation; // Text or Binary while a fragmented message is open
    bool m_failed = false;
};

} // namespace WsFrames
} // namespace Runwatch
