#include "wsframes.h"

#include <QCryptographicHash>
#include <QtEndian>

#include <cstring>

namespace Runwatch::WsFrames {

QByteArray frameHeader(Opcode opcode, quint64 payloadLength)
{
    char header[10];
    int size = 2;
    header[0] = char(0x80 | opcode); // FIN: the server never fragments
    if (payloadLength < 126) {
        header[1] = char(payloadLength);
    } else if (payloadLength <= 0xffff) {
        header[1] = char(126);
        qToBigEndian(quint16(payloadLength), header + 2);
        size = 4;
    } else {
        header[1] = char(127);
        qToBigEndian(payloadLength, header + 2);
        size = 10;
    }
    return QByteArray(header, size);
}

QByteArray frame(Opcode opcode, const QByteArray &payload)
{
    return frameHeader(opcode, quint64(payload.size())) + payload;
}

QByteArray closeFrame(quint16 code, const QString &reason)
{
    char bytes[2];
    qToBigEndian(code, bytes);
    // A control frame's payload is at most 125 bytes: the reason is cut to fit, at a character.
    QByteArray text = reason.toUtf8();
    while (text.size() > 123) {
        text.chop(1);
        while (!text.isEmpty() && (uchar(text.back()) & 0xC0) == 0x80)
            text.chop(1);
        if (!text.isEmpty() && uchar(text.back()) >= 0xC0)
            text.chop(1);
    }
    return frame(Close, QByteArray(bytes, 2) + text);
}

bool isValidUtf8(const char *data, qsizetype size)
{
    const auto *p = reinterpret_cast<const uchar *>(data);
    const uchar *end = p + size;
    while (p < end) {
        // Plain ASCII eight bytes at a time: most of what producers send.
        while (end - p >= 8) {
            quint64 word;
            std::memcpy(&word, p, 8);
            if (word & 0x8080808080808080ULL)
                break;
            p += 8;
        }
        if (p >= end)
            break;
        const uchar c = *p;
        if (c < 0x80) {
            ++p;
            continue;
        }
        int extra;
        uint lowest;
        uint code;
        if ((c & 0xE0) == 0xC0) {
            extra = 1;
            lowest = 0x80;
            code = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            extra = 2;
            lowest = 0x800;
            code = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            extra = 3;
            lowest = 0x10000;
            code = c & 0x07;
        } else {
            return false;
        }
        if (end - p <= extra)
            return false;
        for (int i = 1; i <= extra; ++i) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            code = (code << 6) | (p[i] & 0x3F);
        }
        if (code < lowest || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
            return false;
        p += extra + 1;
    }
    return true;
}

bool isValidCloseCode(quint16 code)
{
    // 1004-1006 and 1015 are never sent; 1012-1014 are registered since RFC 6455 and accepted;
    // 3000-4999 belong to libraries and applications.
    if (code >= 1000 && code <= 1014)
        return code != 1004 && code != 1005 && code != 1006;
    return code >= 3000 && code <= 4999;
}

QByteArray acceptKey(const QByteArray &key)
{
    return QCryptographicHash::hash(QByteArray(key.trimmed() + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"), QCryptographicHash::Sha1).toBase64();
}

bool isValidKey(const QByteArray &key)
{
    const QByteArray trimmed = key.trimmed();
    if (trimmed.size() != 24)
        return false;
    const auto decoded = QByteArray::fromBase64Encoding(trimmed, QByteArray::AbortOnBase64DecodingErrors);
    return decoded && decoded.decoded.size() == 16;
}

void Reader::feed(const char *data, qsizetype size)
{
    if (m_failed || size <= 0)
        return;
    if (m_offset > 0 && m_offset == m_buffer.size()) {
        m_buffer.clear();
        m_offset = 0;
    }
    m_buffer.append(data, size);
}

bool Reader::fail(Message *out, quint16 code, const QString &why)
{
    m_failed = true;
    m_buffer.clear();
    m_message.clear();
    m_offset = 0;
    *out = Message();
    out->kind = Message::Kind::Error;
    out->closeCode = code;
    out->error = why;
    return true;
}

bool Reader::next(Message *out)
{
    if (m_failed)
        return false;
    for (;;) {
        const qsizetype available = m_buffer.size() - m_offset;
        const auto *p = reinterpret_cast<const uchar *>(m_buffer.constData()) + m_offset;
        if (available < 2)
            break;
        const bool fin = p[0] & 0x80;
        const auto opcode = Opcode(p[0] & 0x0F);
        const bool masked = p[1] & 0x80;
        quint64 length = p[1] & 0x7F;
        if (p[0] & 0x70)
            return fail(out, CloseProtocolError, QStringLiteral("reserved bits set, but no extension was agreed"));
        const bool control = opcode & 0x8;
        if (opcode != Continuation && opcode != Text && opcode != Binary && opcode != Close && opcode != Ping && opcode != Pong)
            return fail(out, CloseProtocolError, QStringLiteral("reserved opcode %1").arg(int(opcode)));
        if (!masked)
            return fail(out, CloseProtocolError, QStringLiteral("a client's frames must be masked (RFC 6455, section 5.1)"));
        if (control && (!fin || length > 125))
            return fail(out, CloseProtocolError, QStringLiteral("control frames are at most 125 bytes and never fragmented"));
        qsizetype header = 2;
        if (length == 126) {
            if (available < 4)
                break;
            length = qFromBigEndian<quint16>(p + 2);
            if (length < 126)
                return fail(out, CloseProtocolError, QStringLiteral("a length below 126 in the 16-bit form"));
            header = 4;
        } else if (length == 127) {
            if (available < 10)
                break;
            length = qFromBigEndian<quint64>(p + 2);
            if (length >> 63)
                return fail(out, CloseProtocolError, QStringLiteral("the highest bit of a 64-bit length is set"));
            if (length <= 0xffff)
                return fail(out, CloseProtocolError, QStringLiteral("a length below 65536 in the 64-bit form"));
            header = 10;
        }
        header += 4; // the masking key
        if (!control) {
            if (opcode == Continuation && m_messageOpcode == Continuation)
                return fail(out, CloseProtocolError, QStringLiteral("a continuation frame with no message to continue"));
            if (opcode != Continuation && m_messageOpcode != Continuation)
                return fail(out, CloseProtocolError, QStringLiteral("a new message inside a fragmented one"));
            // Refused as soon as the header says so: such a message is never held.
            if (length > quint64(m_maxMessage) || quint64(m_message.size()) + length > quint64(m_maxMessage))
                return fail(out, CloseTooBig, QStringLiteral("a message of more than %1 bytes").arg(m_maxMessage));
        }
        if (quint64(available) < quint64(header) + length)
            break;
        uchar key[4];
        std::memcpy(key, p + header - 4, 4);
        QByteArray payload(qsizetype(length), Qt::Uninitialized);
        const uchar *in = p + header;
        auto *data = reinterpret_cast<uchar *>(payload.data());
        qsizetype i = 0;
        if (length >= 8) {
            quint64 wide;
            uchar pattern[8] = {key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]};
            std::memcpy(&wide, pattern, 8);
            for (; i + 8 <= qsizetype(length); i += 8) {
                quint64 word;
                std::memcpy(&word, in + i, 8);
                word ^= wide;
                std::memcpy(data + i, &word, 8);
            }
        }
        for (; i < qsizetype(length); ++i)
            data[i] = in[i] ^ key[i & 3];
        m_offset += header + qsizetype(length);
        if (m_offset == m_buffer.size()) {
            m_buffer.clear();
            m_offset = 0;
        } else if (m_offset > 64 * 1024) {
            m_buffer.remove(0, m_offset);
            m_offset = 0;
        }

        if (control) {
            *out = Message();
            if (opcode == Ping) {
                out->kind = Message::Kind::Ping;
                out->payload = payload;
            } else if (opcode == Pong) {
                out->kind = Message::Kind::Pong;
                out->payload = payload;
            } else {
                if (payload.size() == 1)
                    return fail(out, CloseProtocolError, QStringLiteral("a close frame of one byte"));
                out->kind = Message::Kind::Close;
                if (payload.size() >= 2) {
                    out->closeCode = qFromBigEndian<quint16>(payload.constData());
                    if (!isValidCloseCode(out->closeCode))
                        return fail(out, CloseProtocolError, QStringLiteral("close code %1 may not be sent").arg(out->closeCode));
                    out->payload = payload.mid(2);
                    if (!isValidUtf8(out->payload.constData(), out->payload.size()))
                        return fail(out, CloseInvalidPayload, QStringLiteral("a close reason that is not UTF-8"));
                }
            }
            return true;
        }
        if (opcode != Continuation)
            m_messageOpcode = opcode;
        if (!fin) {
            m_message.append(payload);
            continue;
        }
        QByteArray message = m_message.isEmpty() ? std::move(payload) : std::exchange(m_message, QByteArray()) + payload;
        const bool text = m_messageOpcode == Text;
        m_messageOpcode = Continuation;
        if (text && !isValidUtf8(message.constData(), message.size()))
            return fail(out, CloseInvalidPayload, QStringLiteral("a text message that is not UTF-8"));
        *out = Message();
        out->kind = text ? Message::Kind::Text : Message::Kind::Binary;
        out->payload = std::move(message);
        return true;
    }
    if (m_offset > 0) {
        m_buffer.remove(0, m_offset);
        m_offset = 0;
    }
    return false;
}

} // namespace Runwatch::WsFrames
