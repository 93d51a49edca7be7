#include "eventlogtable.h"

#include "eventlogmodel.h"

#include <QFontMetrics>
#include <QHeaderView>
#include <QTimer>

namespace Runwatch {

namespace {

constexpr int CellPadding = 14;
constexpr int MaxRunChars = 36;

} // namespace

EventLogTable::EventLogTable(QWidget *parent)
    : QTableView(parent)
{
    setObjectName(QStringLiteral("eventLog"));
    verticalHeader()->hide();
    verticalHeader()->setDefaultSectionSize(20);
    horizontalHeader()->setStretchLastSection(true);
    setSelectionBehavior(QAbstractItemView::SelectRows);
    setWordWrap(false);
}

void EventLogTable::setModel(QAbstractItemModel *model)
{
    QTableView::setModel(model);
    // Rows come up to thirty times a second: look at the names at most once a second.
    auto *timer = new QTimer(this);
    timer->setSingleShot(true);
    timer->setInterval(1000);
    connect(timer, &QTimer::timeout, this, &EventLogTable::fitColumns);
    connect(model, &QAbstractItemModel::rowsInserted, timer, [timer] {
        if (!timer->isActive())
            timer->start();
    });
    fitColumns();
}

void EventLogTable::fitColumns()
{
    if (!model())
        return;
    const QFontMetrics metrics(font());
    const QFontMetrics headerMetrics(horizontalHeader()->font());
    auto header = [&](int column) {
        return headerMetrics.horizontalAdvance(model()->headerData(column, Qt::Horizontal).toString()) + CellPadding;
    };
    setColumnWidth(EventLogModel::Time, qMax(header(EventLogModel::Time), metrics.horizontalAdvance(QStringLiteral("00:00:00.000")) + CellPadding));
    setColumnWidth(EventLogModel::Type, qMax(header(EventLogModel::Type), metrics.horizontalAdvance(QStringLiteral("step_completed")) + CellPadding));
    // The newest few hundred rows say which names are in view.
    int names = metrics.averageCharWidth() * 12;
    const int rows = model()->rowCount();
    for (int row = qMax(0, rows - 300); row < rows; ++row)
        names = qMax(names, metrics.horizontalAdvance(model()->index(row, EventLogModel::Run).data().toString()));
    const int run = qMin(names, metrics.averageCharWidth() * MaxRunChars) + CellPadding;
    // Grow at once, but shrink only by a good step, so that the summary does not jitter.
    const int current = columnWidth(EventLogModel::Run);
    if (run > current || run < current - 40)
        setColumnWidth(EventLogModel::Run, qMax(header(EventLogModel::Run), run));
}

} // namespace Runwatch
