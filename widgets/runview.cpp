#include "runview.h"

#include "format.h"
#include "progressdelegate.h"
#include "runsmodel.h"
#include "runstate.h"
#include "stepsmodel.h"
#include "workspace.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDateTime>
#include <QDir>
#include <QFileDialog>
#include <QFontDatabase>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonArray>
#include <QJsonObject>
#include <QLabel>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSaveFile>
#include <QScrollArea>
#include <QScrollBar>
#include <QSlider>
#include <QTabWidget>
#include <QTextCursor>
#include <QTableView>
#include <QToolButton>
#include <QTreeWidget>
#include <QVBoxLayout>

#include <cmath>

namespace Runwatch {

namespace {

void addJson(QTreeWidgetItem *parent, const QString &key, const QJsonValue &value)
{
    auto *item = new QTreeWidgetItem(parent, {key});
    if (value.isObject()) {
        const QJsonObject object = value.toObject();
        for (auto it = object.constBegin(); it != object.constEnd(); ++it)
            addJson(item, it.key(), it.value());
    } else if (value.isArray()) {
        const QJsonArray array = value.toArray();
        for (qsizetype i = 0; i < array.size(); ++i)
            addJson(item, QStringLiteral("[%1]").arg(i), array.at(i));
    } else if (value.isBool()) {
        item->setText(1, value.toBool() ? QStringLiteral("true") : QStringLiteral("false"));
    } else if (value.isDouble()) {
        item->setText(1, QString::number(value.toDouble(), 'g', 10));
    } else if (value.isNull()) {
        item->setText(1, QStringLiteral("null"));
    } else {
        item->setText(1, value.toString());
    }
}

} // namespace

RunView::RunView(Workspace *workspace, QWidget *parent)
    : QWidget(parent), m_workspace(workspace)
{
    // Header: name and status, a progress bar, and a line of details.
    m_title = new QLabel(this);
    QFont titleFont = m_title->font();
    titleFont.setPointSizeF(titleFont.pointSizeF() * 1.35);
    titleFont.setBold(true);
    m_title->setFont(titleFont);
    m_title->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_status = new QLabel(this);
    m_status->setObjectName(QStringLiteral("runStatus"));
    m_progress = new QProgressBar(this);
    m_progress->setObjectName(QStringLiteral("runProgress"));
    m_progress->setRange(0, 1000);
    m_progress->setTextVisible(true);
    m_progress->setMaximumWidth(320);
    m_details = new QLabel(this);
    m_details->setObjectName(QStringLiteral("runDetails"));
    m_details->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_details->setWordWrap(true);
    auto *titleRow = new QHBoxLayout;
    titleRow->addWidget(m_title);
    titleRow->addWidget(m_status);
    titleRow->addStretch(1);
    titleRow->addWidget(m_progress, 1);

    // Charts tab: options, then a grid of charts.
    auto *chartsPage = new QWidget(this);
    m_xAxis = new QComboBox(chartsPage);
    m_xAxis->addItem(tr("x: step"));
    m_xAxis->addItem(tr("x: time"));
    m_smoothing = new QSlider(Qt::Horizontal, chartsPage);
    m_smoothing->setRange(0, 99);
    m_smoothing->setValue(int(m_options.smoothing * 100));
    m_smoothing->setMaximumWidth(160);
    m_smoothing->setToolTip(tr("Exponential moving average; the raw line stays faint behind"));
    m_smoothingValue = new QLabel(chartsPage);
    m_smoothingValue->setMinimumWidth(36);
    m_logY = new QCheckBox(tr("log y"), chartsPage);
    auto *reset = new QPushButton(tr("Reset zoom"), chartsPage);
    auto *exportButton = new QToolButton(chartsPage);
    exportButton->setText(tr("Export"));
    exportButton->setPopupMode(QToolButton::InstantPopup);
    exportButton->addAction(tr("Charts as PNG…"), this, [this] { exportCharts(); });
    exportButton->addAction(tr("Metrics as CSV table…"), this, [this] { exportTables(); });
    auto *options = new QHBoxLayout;
    options->addWidget(m_xAxis);
    options->addSpacing(12);
    options->addWidget(new QLabel(tr("Smoothing"), chartsPage));
    options->addWidget(m_smoothing);
    options->addWidget(m_smoothingValue);
    options->addSpacing(12);
    options->addWidget(m_logY);
    options->addStretch(1);
    options->addWidget(reset);
    options->addWidget(exportButton);
    m_chartArea = new QWidget;
    m_sectionsLayout = new QVBoxLayout(m_chartArea);
    m_sectionsLayout->setContentsMargins(0, 0, 0, 0);
    m_noCharts = new QLabel(tr("No metrics yet. Send a \"metric\" event, for example {\"step\": 1, \"loss\": 0.5}."), m_chartArea);
    m_noCharts->setAlignment(Qt::AlignCenter);
    m_noCharts->setWordWrap(true);
    m_sectionsLayout->addWidget(m_noCharts, 1);
    auto *scroll = new QScrollArea(chartsPage);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    scroll->setWidget(m_chartArea);
    auto *chartsLayout = new QVBoxLayout(chartsPage);
    chartsLayout->setContentsMargins(4, 4, 4, 4);
    chartsLayout->addLayout(options);
    chartsLayout->addWidget(scroll, 1);

    connect(m_xAxis, &QComboBox::currentIndexChanged, this, [this](int index) {
        m_options.byTime = index == 1;
        setChartOptions(m_options);
    });
    connect(m_smoothing, &QSlider::valueChanged, this, [this](int value) {
        m_options.smoothing = value / 100.0;
        m_smoothingValue->setText(QString::number(m_options.smoothing, 'f', 2));
        setChartOptions(m_options);
    });
    m_smoothingValue->setText(QString::number(m_options.smoothing, 'f', 2));
    connect(m_logY, &QCheckBox::toggled, this, [this](bool on) {
        m_options.logY = on;
        setChartOptions(m_options);
    });
    connect(reset, &QPushButton::clicked, this, [this] {
        for (MetricChart *chart : std::as_const(m_charts))
            chart->resetZoom();
    });

    // Steps tab.
    m_steps = new StepsModel(workspace, this);
    m_stepsView = new QTableView(this);
    m_stepsView->setModel(m_steps);
    m_stepsView->setItemDelegateForColumn(StepsModel::Progress,
                                          new ProgressDelegate(StepsModel::ProgressRole, StepsModel::StatusRole, m_stepsView));
    m_stepsView->verticalHeader()->hide();
    m_stepsView->horizontalHeader()->setStretchLastSection(true);
    m_stepsView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_stepsView->setColumnWidth(StepsModel::Name, 200);
    m_stepsView->setColumnWidth(StepsModel::Progress, 140);

    // Output and Config tabs.
    m_output = new QPlainTextEdit(this);
    m_output->setReadOnly(true);
    m_output->setMaximumBlockCount(50000);
    m_output->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_config = new QTreeWidget(this);
    m_config->setColumnCount(2);
    m_config->setHeaderLabels({tr("Key"), tr("Value")});

    m_tabs = new QTabWidget(this);
    m_tabs->addTab(chartsPage, tr("Charts"));
    m_tabs->addTab(m_stepsView, tr("Steps"));
    m_tabs->addTab(m_output, tr("Output"));
    m_tabs->addTab(m_config, tr("Config"));

    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 0);
    layout->addLayout(titleRow);
    layout->addWidget(m_details);
    layout->addWidget(m_tabs, 1);

    connect(workspace, &Workspace::runsChanged, this, &RunView::onRunsChanged);
    connect(workspace, &Workspace::applied, this, &RunView::onApplied);
    connect(workspace, &Workspace::runRemoved, this, [this](const QString &run) {
        QStringList runs = m_runs;
        if (runs.removeAll(run))
            setRuns(runs);
    });
    // Charts redraw at most ten times a second, whatever the event rate.
    m_redraw.setInterval(100);
    connect(&m_redraw, &QTimer::timeout, this, [this] {
        if (m_chartsDirty)
            refreshCharts();
    });
    m_redraw.start();
    setRuns({});
}

void RunView::setRuns(const QStringList &runs)
{
    m_runs = runs;
    m_steps->setRun(runs.value(0));
    updateHeader();
    rebuildCharts();
    rebuildOutput();
    rebuildConfig();
}

QList<MetricChart *> RunView::charts() const
{
    return m_charts;
}

void RunView::setChartOptions(const ChartOptions &options)
{
    m_options = options;
    for (MetricChart *chart : std::as_const(m_charts))
        chart->setOptions(options);
}

QList<QPair<QString, QStringList>> RunView::groupMetrics(const QStringList &names)
{
    QList<QPair<QString, QStringList>> groups;
    QStringList losses;
    for (const QString &name : names) {
        if (name.endsWith(QLatin1String("loss"), Qt::CaseInsensitive))
            losses.append(name);
    }
    if (!losses.isEmpty()) {
        // "loss" first, then the others in name order.
        std::sort(losses.begin(), losses.end(), [](const QString &a, const QString &b) {
            if ((a == QLatin1String("loss")) != (b == QLatin1String("loss")))
                return a == QLatin1String("loss");
            return a < b;
        });
        groups.append({QStringLiteral("loss"), losses});
    }
    for (const QString &name : names) {
        if (!losses.contains(name))
            groups.append({name, {name}});
    }
    return groups;
}

QList<RunView::Section> RunView::sectionMetrics(const QStringList &names)
{
    QStringList unprefixed;
    std::map<QString, QStringList> prefixed; // prefix -> names without it, in name order
    for (const QString &name : names) {
        const qsizetype slash = name.indexOf(QLatin1Char('/'));
        if (slash > 0 && slash < name.size() - 1)
            prefixed[name.left(slash)].append(name.mid(slash + 1));
        else
            unprefixed.append(name);
    }
    QList<Section> sections;
    if (!unprefixed.isEmpty())
        sections.append({QString(), groupMetrics(unprefixed)});
    for (const auto &[prefix, rest] : prefixed) {
        Section section{prefix, groupMetrics(rest)};
        for (auto &chart : section.charts) {
            for (QString &metric : chart.second)
                metric = prefix + QLatin1Char('/') + metric;
        }
        sections.append(section);
    }
    return sections;
}

QStringList RunView::sections() const
{
    QStringList out;
    for (QWidget *widget : m_sectionWidgets) {
        if (auto *header = qobject_cast<QToolButton *>(widget))
            out.append(header->property("section").toString());
    }
    return out;
}

QList<MetricChart *> RunView::charts(const QString &section) const
{
    QList<MetricChart *> out;
    for (MetricChart *chart : m_charts) {
        if (m_chartSection.value(chart) == section)
            out.append(chart);
    }
    return out;
}

QToolButton *RunView::sectionHeader(const QString &section) const
{
    return m_sectionHeaders.value(section);
}

void RunView::setSectionCollapsed(const QString &section, bool collapsed)
{
    if (collapsed)
        m_collapsed.insert(section);
    else
        m_collapsed.remove(section);
    if (QToolButton *header = m_sectionHeaders.value(section)) {
        const QSignalBlocker blocker(header);
        header->setChecked(!collapsed);
        header->setArrowType(collapsed ? Qt::RightArrow : Qt::DownArrow);
    }
    if (QWidget *box = m_sectionBoxes.value(section))
        box->setVisible(!collapsed);
    if (!collapsed) {
        for (MetricChart *chart : charts(section))
            chart->refresh(); // skipped while it was closed
    }
}

void RunView::onRunsChanged(const QSet<QString> &runs)
{
    bool mine = false;
    for (const QString &run : std::as_const(m_runs))
        mine = mine || runs.contains(run);
    if (!mine)
        return;
    updateHeader();
    m_chartsDirty = true;
    if (m_runs.size() == 1 && m_config->topLevelItemCount() == 0)
        rebuildConfig();
}

void RunView::onApplied(const EventBatch &batch)
{
    if (m_runs.isEmpty())
        return;
    const QString &run = m_runs.first();
    QString text;
    for (const Event &event : batch) {
        if (event.run == run)
            text += Workspace::consoleText(event);
        if (event.run == run && event.kind == EventKind::RunStarted)
            rebuildConfig();
    }
    if (text.isEmpty())
        return;
    QTextCursor cursor(m_output->document());
    cursor.movePosition(QTextCursor::End);
    cursor.insertText(text);
    if (!m_output->verticalScrollBar()->isSliderDown())
        m_output->verticalScrollBar()->setValue(m_output->verticalScrollBar()->maximum());
}

void RunView::updateHeader()
{
    const RunState *run = m_runs.isEmpty() ? nullptr : m_workspace->run(m_runs.first());
    if (!run) {
        m_title->setText(tr("No run selected"));
        m_status->clear();
        m_progress->hide();
        m_details->setText(tr("Runs appear on the left as soon as a producer sends their first event."));
        return;
    }
    QString title = run->name();
    if (m_runs.size() > 1)
        title += tr("  (+%n more)", nullptr, int(m_runs.size() - 1));
    m_title->setText(title);
    m_status->setText(QStringLiteral("<span style=\"color:%1;font-weight:600\">%2</span>")
                          .arg(Format::statusColor(run->status()).name(), Format::runStatusText(*run).toHtmlEscaped()));
    const double progress = run->progress();
    m_progress->setVisible(progress >= 0);
    m_progress->setValue(int(std::lround(qBound(0.0, progress, 1.0) * 1000)));
    m_progress->setFormat(Format::percent(progress, 1));

    QStringList parts;
    parts << run->kind();
    if (run->stoppedEarly())
        parts << Format::stoppedEarlyText(*run);
    if (run->epoch() >= 0)
        parts << (run->totalEpochs() > 0 ? tr("epoch %1/%2").arg(run->epoch()).arg(run->totalEpochs()) : tr("epoch %1").arg(run->epoch()));
    if (run->currentStep() >= 0)
        parts << (run->total() > 0 ? tr("step %1/%2").arg(run->currentStep()).arg(qint64(run->total())) : tr("step %1").arg(run->currentStep()));
    if (!run->isFinished() && run->etaSeconds() >= 0)
        parts << tr("ETA %1").arg(Format::duration(run->etaSeconds()));
    if (run->startedMs() > 0) {
        const qint64 end = run->endedMs() > 0 ? run->endedMs() : QDateTime::currentMSecsSinceEpoch();
        parts << tr("elapsed %1").arg(Format::duration((end - run->startedMs()) / 1000.0));
    }
    double value = 0;
    for (const QString &name : RunsModel::throughputMetrics()) {
        if (run->latest(name, &value)) {
            parts << Format::rate(value, Format::rateUnit(name));
            break;
        }
    }
    if (run->latest(QStringLiteral("gpu_memory_allocated_gb"), &value) || run->latest(QStringLiteral("system/gpu_memory_gb"), &value))
        parts << tr("GPU %1 GB").arg(Format::metricValue(value));
    if (run->successRate() >= 0)
        parts << tr("success %1 of %2").arg(Format::percent(run->successRate(), 1)).arg(run->resultCount());
    if (run->errorCount() > 0)
        parts << QStringLiteral("<span style=\"color:#c0392b;font-weight:600\">%1</span>").arg(tr("%n error(s)", nullptr, int(run->errorCount())));
    QString details = parts.join(QStringLiteral("  ·  "));
    if (!run->lastError().isEmpty())
        details += QStringLiteral("<br><span style=\"color:#c0392b\">%1</span>").arg(run->lastError().toHtmlEscaped());
    m_details->setText(details);
}

void RunView::rebuildCharts()
{
    QStringList names;
    for (const QString &id : std::as_const(m_runs)) {
        if (const RunState *run = m_workspace->run(id)) {
            for (const QString &name : run->metricNames()) {
                if (!names.contains(name))
                    names.append(name);
            }
        }
    }
    names.sort();
    m_chartedMetrics = names;
    qDeleteAll(m_sectionWidgets); // the charts with their boxes
    m_sectionWidgets.clear();
    m_sectionBoxes.clear();
    m_sectionHeaders.clear();
    m_chartSection.clear();
    m_charts.clear();
    int position = 0;
    for (const Section &section : sectionMetrics(names)) {
        if (!section.prefix.isEmpty()) {
            auto *header = new QToolButton(m_chartArea);
            header->setObjectName(QStringLiteral("section:") + section.prefix);
            header->setProperty("section", section.prefix);
            header->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
            header->setAutoRaise(true);
            header->setCheckable(true);
            int metrics = 0;
            for (const auto &chart : section.charts)
                metrics += int(chart.second.size());
            header->setText(QStringLiteral("%1  (%2)").arg(section.prefix).arg(metrics));
            header->setToolTip(tr("%n metric(s) named %1/…; click to show or hide them", nullptr, metrics).arg(section.prefix));
            QFont font = header->font();
            font.setBold(true);
            header->setFont(font);
            const QString prefix = section.prefix;
            connect(header, &QToolButton::toggled, this, [this, prefix](bool open) { setSectionCollapsed(prefix, !open); });
            m_sectionsLayout->insertWidget(position++, header);
            m_sectionWidgets.append(header);
            m_sectionHeaders.insert(section.prefix, header);
        }
        auto *box = new QWidget(m_chartArea);
        auto *grid = new QGridLayout(box);
        grid->setContentsMargins(0, 0, 0, 0);
        m_sectionsLayout->insertWidget(position++, box);
        m_sectionWidgets.append(box);
        m_sectionBoxes.insert(section.prefix, box);
        int index = 0;
        for (const auto &group : section.charts) {
            auto *chart = new MetricChart(m_workspace, group.first, group.second, box);
            chart->setOptions(m_options);
            chart->setRuns(m_runs);
            // A loss chart spans both columns: it is what people look at first.
            if (index == 0 && group.first == QLatin1String("loss")) {
                grid->addWidget(chart, 0, 0, 1, 2);
                index = 2;
            } else {
                grid->addWidget(chart, index / 2, index % 2);
                ++index;
            }
            m_charts.append(chart);
            m_chartSection.insert(chart, section.prefix);
        }
        if (!section.prefix.isEmpty())
            setSectionCollapsed(section.prefix, m_collapsed.contains(section.prefix));
    }
    m_noCharts->setVisible(m_charts.isEmpty());
    m_chartsDirty = false;
}

void RunView::refreshCharts()
{
    m_chartsDirty = false;
    // New metric names mean new charts; otherwise redraw what is there.
    QStringList names;
    for (const QString &id : std::as_const(m_runs)) {
        if (const RunState *run = m_workspace->run(id)) {
            for (const QString &name : run->metricNames()) {
                if (!names.contains(name))
                    names.append(name);
            }
        }
    }
    names.sort();
    if (names != m_chartedMetrics) {
        rebuildCharts();
        return;
    }
    for (MetricChart *chart : std::as_const(m_charts)) {
        if (!m_collapsed.contains(m_chartSection.value(chart)))
            chart->refresh();
    }
}

void RunView::rebuildOutput()
{
    m_output->setPlainText(m_runs.isEmpty() ? QString() : m_workspace->console(m_runs.first()));
    m_output->verticalScrollBar()->setValue(m_output->verticalScrollBar()->maximum());
}

void RunView::rebuildConfig()
{
    m_config->clear();
    const RunState *run = m_runs.isEmpty() ? nullptr : m_workspace->run(m_runs.first());
    if (!run)
        return;
    auto *root = m_config->invisibleRootItem();
    const QJsonObject config = run->config();
    for (auto it = config.constBegin(); it != config.constEnd(); ++it)
        addJson(root, it.key(), it.value());
    if (!run->tags().isEmpty())
        addJson(root, tr("tags"), QJsonArray::fromStringList(run->tags()));
    m_config->expandAll();
    m_config->resizeColumnToContents(0);
}

namespace {

// A run id or metric name as part of a file name: no path separators or other awkward characters.
QString fileNamePart(QString text)
{
    static const QString awkward = QStringLiteral("/\\:*?\"<>|");
    for (QChar &c : text) {
        if (awkward.contains(c) || c.isSpace())
            c = QLatin1Char('_');
    }
    return text;
}

} // namespace

void RunView::exportCharts()
{
    if (m_charts.isEmpty())
        return;
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Export charts as PNG"));
    if (dir.isEmpty())
        return;
    const QString base = m_runs.size() == 1 ? fileNamePart(m_runs.first()) : QStringLiteral("runs");
    QStringList failed;
    for (MetricChart *chart : std::as_const(m_charts)) {
        const QString section = m_chartSection.value(chart);
        const QString name = section.isEmpty() ? chart->title() : section + QLatin1Char('-') + chart->title();
        const QString file = QDir(dir).filePath(QStringLiteral("%1-%2.png").arg(base, fileNamePart(name)));
        if (!chart->exportPng(file))
            failed.append(file);
    }
    if (!failed.isEmpty())
        QMessageBox::warning(this, tr("Export"), tr("Could not write:\n%1").arg(failed.join(QLatin1Char('\n'))));
}

void RunView::exportTables()
{
    if (m_runs.isEmpty())
        return;
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Export metrics as CSV (one file per run)"));
    if (dir.isEmpty())
        return;
    QStringList failed;
    for (const QString &run : std::as_const(m_runs)) {
        QSaveFile out(QDir(dir).filePath(fileNamePart(run) + QStringLiteral(".csv")));
        if (!out.open(QIODevice::WriteOnly) || out.write(m_workspace->metricsCsv({run})) < 0 || !out.commit())
            failed.append(out.fileName());
    }
    if (!failed.isEmpty())
        QMessageBox::warning(this, tr("Export"), tr("Could not write:\n%1").arg(failed.join(QLatin1Char('\n'))));
}

} // namespace Runwatch
