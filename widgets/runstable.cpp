#include "runstable.h"

#include "format.h"
#include "progressdelegate.h"
#include "runsmodel.h"

#include <QCoreApplication>
#include <QFontMetrics>
#include <QHeaderView>
#include <QResizeEvent>

namespace Runwatch {

namespace {

// Text margins of a cell on either side, and room for the header's sort arrow.
constexpr int CellPadding = 20;
constexpr int SortArrow = 16;
// Past this many characters a name is elided rather than given more room.
constexpr int MaxNameChars = 40;

int textWidth(const QFontMetrics &metrics, const QString &text)
{
    return metrics.horizontalAdvance(text) + CellPadding;
}

} // namespace

RunsTable::RunsTable(QWidget *parent)
    : QTableView(parent)
{
    setObjectName(QStringLiteral("runs"));
    setSortingEnabled(true);
    setSelectionBehavior(QAbstractItemView::SelectRows);
    setSelectionMode(QAbstractItemView::ExtendedSelection);
    verticalHeader()->hide();
    verticalHeader()->setDefaultSectionSize(26);
    setAlternatingRowColors(true);
    setWordWrap(false);
    // "resnet50 lr=3e-4" and "resnet50 lr=1e-2" differ at the end: keep both ends of a long name.
    setTextElideMode(Qt::ElideMiddle);
    horizontalHeader()->setStretchLastSection(true);
    setItemDelegateForColumn(RunsModel::Progress, new ProgressDelegate(RunsModel::ProgressRole, RunsModel::StatusRole, this));
}

void RunsTable::setModel(QAbstractItemModel *model)
{
    QTableView::setModel(model);
    sortByColumn(-1, Qt::AscendingOrder);
    QHeaderView *header = horizontalHeader();
    const QVector<int> &order = columnOrder();
    for (int visual = 0; visual < order.size(); ++visual)
        header->moveSection(header->visualIndex(order.at(visual)), visual);
    connect(model, &QAbstractItemModel::rowsInserted, this, &RunsTable::fitColumns);
    connect(model, &QAbstractItemModel::modelReset, this, &RunsTable::fitColumns);
    fitColumns();
}

const QVector<int> &RunsTable::columnOrder()
{
    static const QVector<int> order{RunsModel::Status, RunsModel::Name, RunsModel::Progress, RunsModel::Loss,
                                    RunsModel::Step, RunsModel::Throughput, RunsModel::Elapsed, RunsModel::Eta,
                                    RunsModel::Epoch, RunsModel::Kind};
    return order;
}

const QVector<int> &RunsTable::keyColumns()
{
    static const QVector<int> key{RunsModel::Status, RunsModel::Name, RunsModel::Progress, RunsModel::Loss, RunsModel::Step};
    return key;
}

QVector<int> RunsTable::columnWidths(const QFontMetrics &metrics, int viewportWidth, int nameWidth)
{
    QVector<int> widths(RunsModel::ColumnCount, 0);
    auto widest = [&](std::initializer_list<QString> texts) {
        int width = 0;
        for (const QString &text : texts)
            width = qMax(width, textWidth(metrics, text));
        return width;
    };
    int statusText = 0;
    for (const char *status : {"running", "completed", "failed", "paused", "cancelled", "pending", "stalled"})
        statusText = qMax(statusText, metrics.horizontalAdvance(Format::statusText(QString::fromLatin1(status))));
    statusText = qMax(statusText, metrics.horizontalAdvance(QCoreApplication::translate("Format", "stopped early")));
    const int icon = metrics.height() + 6;
    widths[RunsModel::Status] = statusText + icon + CellPadding;
    widths[RunsModel::Progress] = qMax(100, textWidth(metrics, Format::percent(1.0, 1)) + 24);
    widths[RunsModel::Loss] = widest({Format::metricValue(0.1234), Format::metricValue(-12.34)});
    widths[RunsModel::Step] = widest({QStringLiteral("0000000/0000000")});
    widths[RunsModel::Throughput] = widest({Format::rate(1180, Format::rateUnit(QStringLiteral("samples_per_second")))});
    widths[RunsModel::Elapsed] = widest({Format::duration(36000 + 3540), Format::duration(3540 + 59)});
    widths[RunsModel::Eta] = widths[RunsModel::Elapsed];
    widths[RunsModel::Epoch] = widest({QStringLiteral("10/10")});
    widths[RunsModel::Kind] = widest({QStringLiteral("evaluation"), QStringLiteral("training")});
    // A header is never cut either.
    for (int column = 0; column < RunsModel::ColumnCount; ++column) {
        const QString title = RunsModel::columnTitle(column);
        widths[column] = qMax(widths[column], textWidth(metrics, title) + SortArrow);
    }
    const int minName = widths[RunsModel::Name];
    const int maxName = metrics.averageCharWidth() * MaxNameChars + CellPadding;
    const int wanted = qBound(minName, nameWidth + CellPadding, maxName);
    int keyOthers = 0, allOthers = 0;
    for (int column = 0; column < RunsModel::ColumnCount; ++column) {
        if (column == RunsModel::Name)
            continue;
        allOthers += widths[column];
        if (keyColumns().contains(column))
            keyOthers += widths[column];
    }
    if (viewportWidth - allOthers >= wanted)
        widths[RunsModel::Name] = viewportWidth - allOthers; // everything fits: the name takes the slack
    else
        widths[RunsModel::Name] = qMax(minName, qMin(wanted, viewportWidth - keyOthers));
    return widths;
}

void RunsTable::fitColumns()
{
    if (!model())
        return;
    const QFontMetrics metrics(font());
    // The widest of the names shown (a few hundred rows say enough).
    int nameWidth = 0;
    const int rows = qMin(model()->rowCount(), 500);
    for (int row = 0; row < rows; ++row)
        nameWidth = qMax(nameWidth, metrics.horizontalAdvance(model()->index(row, RunsModel::Name).data().toString()));
    const QVector<int> widths = columnWidths(metrics, viewport()->width(), nameWidth);
    QHeaderView *header = horizontalHeader();
    const int last = header->logicalIndex(header->count() - 1);
    for (int column = 0; column < widths.size(); ++column) {
        if (column != last)
            setColumnWidth(column, widths.at(column));
    }
}

void RunsTable::resizeEvent(QResizeEvent *event)
{
    QTableView::resizeEvent(event);
    if (event->size().width() != event->oldSize().width())
        fitColumns();
}

} // namespace Runwatch
