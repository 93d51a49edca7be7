#pragma once

#include <QByteArray>
#include <QString>
#include <QStringList>

#include <map>
#include <vector>

namespace Runwatch {

struct MetricSeries;

// Metric series as one table: a row per step, a column per series, the value each series logged
// at that step (the last one when it logged twice), and the time of the row's latest point. What
// every CSV export writes (REST, `runwatch export`, the window), so that a spreadsheet gets one
// line per step instead of one per metric event.
class MetricTable
{
public:
    // Adds a column; call in the order the columns should appear.
    void addSeries(const QString &column, const MetricSeries &series);

    // step,time,<column>,... with RFC 3339 times and NaN / Infinity / -Infinity spelled out.
    QByteArray csv() const;
    int rowCount() const { return int(m_rows.size()); }
    const QStringList &columns() const { return m_columns; }

private:
    struct Row {
        qint64 tsMs = 0;
        std::vector<double> values; // by column; meaningful where `present` is set
        std::vector<bool> present;
    };
    QStringList m_columns;
    std::map<qint64, Row> m_rows;
};

} // namespace Runwatch
