#include "runsmodel.h"

#include "format.h"
#include "runstate.h"
#include "workspace.h"

#include <QDateTime>
#include <QFont>
#include <QGuiApplication>
#include <QPalette>

#include <cmath>

namespace Runwatch {

RunsModel::RunsModel(Workspace *workspace, QObject *parent)
    : QAbstractTableModel(parent), m_workspace(workspace)
{
    connect(workspace, &Workspace::runsAdded, this, &RunsModel::onAdded);
    connect(workspace, &Workspace::runsChanged, this, &RunsModel::onChanged);
    connect(workspace, &Workspace::runRemoved, this, &RunsModel::onRemoved);
    onAdded(workspace->runIds());
    m_clock.setInterval(1000);
    connect(&m_clock, &QTimer::timeout, this, [this] {
        if (!m_rows.isEmpty())
            Q_EMIT dataChanged(index(0, Elapsed), index(int(m_rows.size()) - 1, Elapsed), {Qt::DisplayRole});
    });
    m_clock.start();
}

const QStringList &RunsModel::throughputMetrics()
{
    static const QStringList names{QStringLiteral("samples_per_second"), QStringLiteral("tokens_per_second"),
                                   QStringLiteral("throughput"), QStringLiteral("it_per_s"),
                                   QStringLiteral("steps_per_second")};
    return names;
}

int RunsModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int RunsModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QString RunsModel::runAt(int row) const
{
    return row >= 0 && row < m_rows.size() ? m_rows.at(row) : QString();
}

int RunsModel::rowOf(const QString &run) const
{
    return m_rowOf.value(run, -1);
}

double RunsModel::elapsedSeconds(const RunState &run) const
{
    if (run.startedMs() <= 0)
        return -1;
    const qint64 end = run.endedMs() > 0 ? run.endedMs() : QDateTime::currentMSecsSinceEpoch();
    return qMax<qint64>(0, end - run.startedMs()) / 1000.0;
}

QVariant RunsModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const RunState *run = m_workspace->run(m_rows.at(index.row()));
    if (!run)
        return {};
    const int column = index.column();
    if (role == RunIdRole)
        return run->id();
    if (role == StatusRole)
        return run->status();
    if (role == ProgressRole)
        return run->progress();

    QString throughputMetric;
    auto throughput = [&](double *value) {
        for (const QString &name : throughputMetrics()) {
            if (run->latest(name, value)) {
                throughputMetric = name;
                return true;
            }
        }
        return false;
    };
    double loss = 0;
    const bool hasLoss = run->latest(QStringLiteral("loss"), &loss);

    if (role == SortRole) {
        switch (column) {
        case Status: return run->status();
        case Name: return run->name().toLower();
        case Kind: return run->kind();
        case Progress: return run->progress();
        case Epoch: return run->epoch();
        case Step: return double(run->currentStep());
        case Loss: return hasLoss ? (std::isnan(loss) ? std::numeric_limits<double>::max() : loss) : -1e300;
        case Throughput: {
            double v = -1;
            throughput(&v);
            return v;
        }
        case Eta: return run->etaSeconds();
        case Elapsed: return elapsedSeconds(*run);
        default: return {};
        }
    }
    if (role == Qt::DecorationRole && column == Status)
        return Format::statusIcon(run->status());
    if (role == Qt::ForegroundRole) {
        if (column == Status)
            return Format::statusColor(run->status());
        if (column == Loss && hasLoss && !std::isfinite(loss))
            return QColor(0xd6, 0x45, 0x41);
        return {};
    }
    if (role == Qt::FontRole && column == Loss && hasLoss && !std::isfinite(loss)) {
        QFont font;
        font.setBold(true);
        return font;
    }
    if (role == Qt::TextAlignmentRole) {
        if (column >= Epoch)
            return int(Qt::AlignRight | Qt::AlignVCenter);
        return {};
    }
    if (role == Qt::ToolTipRole) {
        QString tip = QStringLiteral("%1 (%2)").arg(run->name(), run->id());
        if (run->stoppedEarly())
            tip += QLatin1Char('\n') + tr("%1, %2").arg(Format::statusText(run->status()), Format::stoppedEarlyText(*run));
        if (!run->statusMessage().isEmpty())
            tip += QLatin1Char('\n') + run->statusMessage();
        if (!run->lastError().isEmpty())
            tip += QLatin1Char('\n') + tr("Last error: %1").arg(run->lastError());
        return tip;
    }
    if (role != Qt::DisplayRole)
        return {};
    switch (column) {
    case Status: return Format::runStatusText(*run);
    case Name: return run->name();
    case Kind: return run->kind();
    case Progress: {
        const double p = run->progress();
        return p < 0 ? QString() : Format::percent(p, 1);
    }
    case Epoch:
        if (run->epoch() < 0)
            return QString();
        if (run->totalEpochs() > 0)
            return QStringLiteral("%1/%2").arg(run->epoch()).arg(run->totalEpochs());
        return QString::number(run->epoch());
    case Step:
        if (run->currentStep() >= 0) {
            if (run->total() > 0)
                return QStringLiteral("%1/%2").arg(run->currentStep()).arg(qint64(run->total()));
            return QString::number(run->currentStep());
        }
        if (run->completed() >= 0 && run->total() > 0)
            return QStringLiteral("%1/%2").arg(qint64(run->completed())).arg(qint64(run->total()));
        return QString();
    case Loss: return hasLoss ? Format::metricValue(loss) : QString();
    case Throughput: {
        double v = 0;
        return throughput(&v) ? Format::rate(v, Format::rateUnit(throughputMetric)) : QString();
    }
    case Eta: return run->isFinished() ? QString() : Format::duration(run->etaSeconds());
    case Elapsed: return Format::duration(elapsedSeconds(*run));
    default: return {};
    }
}

QVariant RunsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    return columnTitle(section);
}

QString RunsModel::columnTitle(int column)
{
    switch (column) {
    case Status: return tr("Status");
    case Name: return tr("Name");
    case Kind: return tr("Kind");
    case Progress: return tr("Progress");
    case Epoch: return tr("Epoch");
    case Step: return tr("Step");
    case Loss: return tr("Loss");
    case Throughput: return tr("Throughput");
    case Eta: return tr("ETA");
    case Elapsed: return tr("Elapsed");
    default: return QString();
    }
}

void RunsModel::onAdded(const QStringList &runs)
{
    QStringList fresh;
    for (const QString &run : runs) {
        if (!m_rowOf.contains(run))
            fresh.append(run);
    }
    if (fresh.isEmpty())
        return;
    const int first = int(m_rows.size());
    beginInsertRows(QModelIndex(), first, first + int(fresh.size()) - 1);
    for (const QString &run : fresh) {
        m_rowOf.insert(run, int(m_rows.size()));
        m_rows.append(run);
    }
    endInsertRows();
}

void RunsModel::onChanged(const QSet<QString> &runs)
{
    // One dataChanged over the span of changed rows: cheap for views, whatever the event rate.
    int lo = INT_MAX, hi = -1;
    for (const QString &run : runs) {
        const int row = m_rowOf.value(run, -1);
        if (row < 0)
            continue;
        lo = qMin(lo, row);
        hi = qMax(hi, row);
    }
    if (hi >= 0)
        Q_EMIT dataChanged(index(lo, 0), index(hi, ColumnCount - 1));
}

void RunsModel::onRemoved(const QString &run)
{
    const int row = m_rowOf.value(run, -1);
    if (row < 0)
        return;
    beginRemoveRows(QModelIndex(), row, row);
    m_rows.removeAt(row);
    m_rowOf.clear();
    for (int i = 0; i < m_rows.size(); ++i)
        m_rowOf.insert(m_rows.at(i), i);
    endRemoveRows();
}

RunsFilterModel::RunsFilterModel(QObject *parent)
    : QSortFilterProxyModel(parent)
{
    setSortRole(RunsModel::SortRole);
    setDynamicSortFilter(true);
}

void RunsFilterModel::setText(const QString &text)
{
    m_text = text.trimmed();
    invalidateFilter();
}

void RunsFilterModel::setStatus(const QString &status)
{
    m_status = status;
    invalidateFilter();
}

bool RunsFilterModel::filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const
{
    const QModelIndex statusIndex = sourceModel()->index(sourceRow, RunsModel::Status, sourceParent);
    if (!m_status.isEmpty() && statusIndex.data(RunsModel::StatusRole).toString() != m_status)
        return false;
    if (m_text.isEmpty())
        return true;
    const QString id = statusIndex.data(RunsModel::RunIdRole).toString();
    const QString name = sourceModel()->index(sourceRow, RunsModel::Name, sourceParent).data().toString();
    const QString kind = sourceModel()->index(sourceRow, RunsModel::Kind, sourceParent).data().toString();
    return id.contains(m_text, Qt::CaseInsensitive) || name.contains(m_text, Qt::CaseInsensitive)
        || kind.contains(m_text, Qt::CaseInsensitive);
}

} // namespace Runwatch
