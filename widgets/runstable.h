#pragma once

#include <QTableView>
#include <QVector>

class QFontMetrics;

namespace Runwatch {

// The runs table: a RunsModel (through its filter) with progress bars, the columns people read
// first on the left, and widths worked out from the font and the names shown, so that status,
// name, progress, loss and step stay readable in the space a 1500 px window gives the table.
class RunsTable : public QTableView
{
    Q_OBJECT
public:
    explicit RunsTable(QWidget *parent = nullptr);

    void setModel(QAbstractItemModel *model) override;

    // RunsModel columns from left to right.
    static const QVector<int> &columnOrder();
    // The columns that must fit without scrolling or eliding: status, name, progress, loss, step.
    static const QVector<int> &keyColumns();
    // Widths by RunsModel column for a viewport this wide, with the widest name needing
    // `nameWidth` pixels. Names beyond what the key columns leave are elided in the middle.
    static QVector<int> columnWidths(const QFontMetrics &metrics, int viewportWidth, int nameWidth);

    // Widths again for the current names and viewport (also done on resize and new rows).
    void fitColumns();

protected:
    void resizeEvent(QResizeEvent *event) override;
};

} // namespace Runwatch
