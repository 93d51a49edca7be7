#include "jsontext.h"

#include <QLocale>
#include <QVarLengthArray>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

namespace Runwatch {
namespace Codec {

namespace {

// One pass over the text outside strings: measures nesting and finds bare non-finite tokens.
struct Scan {
    int maxDepth = 0;
    bool hasBareNonFinite = false;
    qsizetype longestString = 0; // bytes between the quotes, as sent
};

Scan scan(const QByteArray &text)
{
    Scan result;
    int depth = 0;
    bool inString = false;
    qsizetype stringStart = 0;
    const char *p = text.constData();
    const qsizetype n = text.size();
    for (qsizetype i = 0; i < n; ++i) {
        const char c = p[i];
        if (inString) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                inString = false;
                result.longestString = std::max(result.longestString, i - stringStart);
            }
            continue;
        }
        switch (c) {
        case '"':
            inString = true;
            stringStart = i + 1;
            break;
        case '[':
        case '{':
            if (++depth > result.maxDepth)
                result.maxDepth = depth;
            break;
        case ']':
        case '}': --depth; break;
        case 'N':
        case 'I': result.hasBareNonFinite = true; break;
        default: break;
        }
    }
    if (inString) // unterminated: the parser refuses it; count it anyway
        result.longestString = std::max(result.longestString, n - stringStart);
    return result;
}

// Numbers that JSON allows but a double cannot hold: out of range (1e400) becomes the string
// "Infinity" or "-Infinity", as a diverging value would have been sent; too small (1e-400) becomes 0,
// its nearest double. QJsonDocument refuses both, which would refuse the whole publish.
bool outOfRange(const char *token, qsizetype length, QByteArray *replacement)
{
    // std::from_chars, not strtod: the application's locale may use another decimal point.
    double value = 0;
    const auto [end, error] = std::from_chars(token, token + length, value);
    if (error != std::errc::result_out_of_range || end != token + length)
        return false;
    // Too large or too small: the decimal order of magnitude says which.
    const char *p = token;
    const char *stop = token + length;
    const bool negative = *p == '-';
    if (negative)
        ++p;
    qint64 order = 0;
    bool seenDigit = false;
    bool fraction = false;
    for (; p < stop && *p != 'e' && *p != 'E'; ++p) {
        if (*p == '.') {
            fraction = true;
        } else if (*p != '0' || seenDigit) {
            if (!seenDigit && fraction)
                order = -order; // zeros after the point before the first digit
            seenDigit = true;
            if (!fraction)
                ++order;
        } else if (fraction) {
            ++order; // a leading zero after the point, counted until the first digit
        }
    }
    if (!seenDigit)
        return false;
    qint64 exponent = 0;
    if (p < stop) {
        ++p;
        const bool negativeExponent = p < stop && *p == '-';
        if (p < stop && (*p == '-' || *p == '+'))
            ++p;
        for (; p < stop; ++p)
            exponent = qMin<qint64>(exponent * 10 + (*p - '0'), qint64(1) << 40);
        if (negativeExponent)
            exponent = -exponent;
    }
    if (order + exponent > 0)
        *replacement = negative ? QByteArrayLiteral("\"-Infinity\"") : QByteArrayLiteral("\"Infinity\"");
    else
        *replacement = QByteArrayLiteral("0");
    return true;
}

// Rewrites what Python's json module and other producers write but strict JSON parsers refuse,
// where a JSON value may stand (after ':' in an object, or first or after ',' in an array): bare
// NaN / Infinity / -Infinity tokens become those strings, and numbers a double cannot hold are
// mapped as outOfRange() says. Anywhere else (a bare key) the text is left alone, so the parser
// still refuses it.
QByteArray normalizeValues(const QByteArray &text)
{
    QByteArray out;
    out.reserve(text.size() + 16);
    bool inString = false;
    QVarLengthArray<char, 64> containers; // '{' or '['
    char last = 0;                       // the last character outside strings that is not blank
    const qsizetype n = text.size();
    auto matches = [&](qsizetype at, const char *word) {
        const qsizetype len = qsizetype(qstrlen(word));
        return at + len <= n && qstrncmp(text.constData() + at, word, size_t(len)) == 0;
    };
    for (qsizetype i = 0; i < n; ++i) {
        const char c = text.at(i);
        if (inString) {
            out.append(c);
            if (c == '\\' && i + 1 < n) {
                out.append(text.at(++i));
            } else if (c == '"') {
                inString = false;
            }
            continue;
        }
        const bool inArray = !containers.isEmpty() && containers.last() == '[';
        const bool valuePosition = last == ':' || (inArray && (last == '[' || last == ','));
        if (valuePosition && c == 'N' && matches(i, "NaN")) {
            out.append("\"NaN\"");
            i += 2;
            last = 'N';
            continue;
        }
        if (valuePosition && c == 'I' && matches(i, "Infinity")) {
            out.append("\"Infinity\"");
            i += 7;
            last = 'I';
            continue;
        }
        if (valuePosition && c == '-' && matches(i, "-Infinity")) {
            out.append("\"-Infinity\"");
            i += 8;
            last = 'I';
            continue;
        }
        if (valuePosition && (c == '-' || (c >= '0' && c <= '9'))) {
            qsizetype end = i + 1;
            while (end < n && (std::isdigit(static_cast<unsigned char>(text.at(end))) || text.at(end) == '.'
                               || text.at(end) == 'e' || text.at(end) == 'E' || text.at(end) == '+' || text.at(end) == '-'))
                ++end;
            QByteArray replacement;
            if (outOfRange(text.constData() + i, end - i, &replacement))
                out.append(replacement);
            else
                out.append(text.constData() + i, end - i);
            i = end - 1;
            last = '0';
            continue;
        }
        out.append(c);
        switch (c) {
        case '"': inString = true; last = '"'; break;
        case '{':
        case '[': containers.append(c); last = c; break;
        case '}':
        case ']':
            if (!containers.isEmpty())
                containers.removeLast();
            last = c;
            break;
        case ' ': case '\t': case '\n': case '\r': break;
        default: last = c; break;
        }
    }
    return out;
}

} // namespace

QJsonDocument parseJson(const QByteArray &text, Error *error, int maxDepth, qint64 maxStringBytes)
{
    const Scan s = scan(text);
    if (s.maxDepth > maxDepth) {
        *error = Error{ErrorCode::InvalidJson,
                       QStringLiteral("JSON nested deeper than %1 levels").arg(maxDepth)};
        return {};
    }

    QJsonParseError parseError{};
    QJsonDocument doc = QJsonDocument::fromJson(text, &parseError);
    if ((parseError.error != QJsonParseError::NoError && s.hasBareNonFinite) || parseError.error == QJsonParseError::IllegalNumber) {
        QJsonParseError second{};
        doc = QJsonDocument::fromJson(normalizeValues(text), &second);
        if (second.error == QJsonParseError::NoError)
            parseError = second;
    }
    if (parseError.error != QJsonParseError::NoError) {
        *error = Error{ErrorCode::InvalidJson, QStringLiteral("not valid JSON: %1 at offset %2")
                                                   .arg(parseError.errorString())
                                                   .arg(parseError.offset)};
        return {};
    }
    if (maxStringBytes > 0 && s.longestString > maxStringBytes) {
        *error = Error{ErrorCode::TooLarge, QStringLiteral("a string of %1 bytes; the limit is %2 (--max-string-bytes)")
                                                .arg(s.longestString)
                                                .arg(maxStringBytes)};
        return doc; // still parsed, so that the caller can answer with the request's id
    }
    *error = {};
    return doc;
}

// Hand-written rather than through QJsonDocument: every envelope's run, type and step go through
// here. bench/codecbench.cpp, rows "envelope": Codec::serializeEnvelope against the same envelope
// made with QJsonDocument(object).toJson.
void appendJsonString(QByteArray &out, const QString &text)
{
    const QByteArray utf8 = text.toUtf8();
    out.reserve(out.size() + utf8.size() + 2);
    out.append('"');
    for (char ch : utf8) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
        case '"': out.append("\\\""); break;
        case '\\': out.append("\\\\"); break;
        case '\n': out.append("\\n"); break;
        case '\r': out.append("\\r"); break;
        case '\t': out.append("\\t"); break;
        case '\b': out.append("\\b"); break;
        case '\f': out.append("\\f"); break;
        default:
            if (c < 0x20) {
                static const char hex[] = "0123456789abcdef";
                out.append("\\u00");
                out.append(hex[c >> 4]);
                out.append(hex[c & 0xF]);
            } else {
                out.append(ch);
            }
        }
    }
    out.append('"');
}

QByteArray jsonString(const QString &text)
{
    QByteArray out;
    appendJsonString(out, text);
    return out;
}

QByteArray metricValueJson(double value)
{
    if (std::isnan(value))
        return QByteArrayLiteral("\"NaN\"");
    if (std::isinf(value))
        return value > 0 ? QByteArrayLiteral("\"Infinity\"") : QByteArrayLiteral("\"-Infinity\"");
    if (value == std::floor(value) && std::fabs(value) < 1e15)
        return QByteArray::number(qint64(value));
    return QByteArray::number(value, 'g', QLocale::FloatingPointShortest); // shortest text that reads back exactly
}

bool parseCount(const QString &text, qint64 *out)
{
    if (text.isEmpty())
        return false;
    qint64 value = 0;
    for (QChar c : text) {
        if (c < QLatin1Char('0') || c > QLatin1Char('9'))
            return false;
        const int digit = c.unicode() - '0';
        value = value > (std::numeric_limits<qint64>::max() - digit) / 10 ? std::numeric_limits<qint64>::max()
                                                                            : value * 10 + digit;
    }
    *out = value;
    return true;
}

} // namespace Codec
} // namespace Runwatch
