#pragma once

#include <QTableView>

namespace Runwatch {

// The event log's table: time, run (by name), type and summary, the first three as wide as what
// they show (the run column as wide as the longest name shown, up to a bound) and the summary
// taking the rest.
class EventLogTable : public QTableView
{
    Q_OBJECT
public:
    explicit EventLogTable(QWidget *parent = nullptr);

    void setModel(QAbstractItemModel *model) override;
    // Widths again for the names shown (done as rows come, at most once a second).
    void fitColumns();
};

} // namespace Runwatch
