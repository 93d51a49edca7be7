#include "metrictable.h"

#include "codec.h"
#include "runstate.h"

namespace Runwatch {

namespace {

QByteArray csvField(const QString &text)
{
    QByteArray utf8 = text.toUtf8();
    // A name that a spreadsheet would take for a formula (=, +, -, @, tab, CR first) is kept as
    // text by a leading apostrophe: a metric name must never run as a formula on the reader's machine.
    if (!utf8.isEmpty() && QByteArrayView("=+-@\t\r").contains(utf8.at(0)))
        utf8.prepend('\'');
    if (!utf8.contains(',') && !utf8.contains('"') && !utf8.contains('\n') && !utf8.contains('\r'))
        return utf8;
    utf8.replace("\"", "\"\"");
    return '"' + utf8 + '"';
}

} // namespace

void MetricTable::addSeries(const QString &column, const MetricSeries &series)
{
    const std::size_t index = std::size_t(m_columns.size());
    m_columns.append(column);
    for (auto &[step, row] : m_rows) {
        row.values.resize(index + 1);
        row.present.resize(index + 1);
    }
    for (qsizetype i = 0; i < series.size(); ++i) {
        Row &row = m_rows[series.steps.at(i)];
        row.values.resize(index + 1);
        row.present.resize(index + 1);
        row.values[index] = series.values.at(i);
        row.present[index] = true;
        row.tsMs = qMax(row.tsMs, series.tsMs.at(i));
    }
}

QByteArray MetricTable::csv() const
{
    QByteArray out = "step,time";
    for (const QString &column : m_columns)
        out += ',' + csvField(column);
    out += '\n';
    for (const auto &[step, row] : m_rows) {
        out += QByteArray::number(step);
        out += ',';
        out += Codec::formatTimestamp(row.tsMs).toLatin1();
        for (std::size_t i = 0; i < std::size_t(m_columns.size()); ++i) {
            out += ',';
            if (i < row.present.size() && row.present[i]) {
                QByteArray value = Codec::metricValueJson(row.values[i]);
                if (value.startsWith('"'))
                    value = value.mid(1, value.size() - 2);
                out += value;
            }
        }
        out += '\n';
    }
    return out;
}

} // namespace Runwatch
