#include "mainwindow.h"

#include "eventlogmodel.h"
#include "eventlogtable.h"
#include "format.h"
#include "runsmodel.h"
#include "runstable.h"
#include "runstate.h"
#include "runview.h"
#include "settingsdialog.h"
#include "transfer.h"
#include "workspace.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QCloseEvent>
#include <QComboBox>
#include <QDesktopServices>
#include <QDockWidget>
#include <QFileDialog>
#include <QSaveFile>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QScrollBar>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QSystemTrayIcon>
#include <QDateTime>
#include <QTableView>
#include <QToolButton>
#include <QUrl>
#include <QUrlQuery>
#include <QVBoxLayout>

namespace Runwatch {

MainWindow::MainWindow(ViewerFeed *feed, const QString &url, const QString &token, const QString &dataDir, QWidget *parent)
    : QMainWindow(parent), m_feed(feed), m_url(url), m_dataDir(dataDir)
{
    setWindowTitle(tr("Runwatch"));
    m_dashboardUrl = url + QLatin1Char('/');
    if (!token.isEmpty()) {
        QUrl dashboard(m_dashboardUrl);
        QUrlQuery query;
        query.addQueryItem(QStringLiteral("token"), token);
        dashboard.setQuery(query);
        m_dashboardUrl = dashboard.toString();
    }
    m_workspace = new Workspace(this);

    // Runs panel: filters above a sortable table.
    m_runs = new RunsModel(m_workspace, this);
    m_runsFilter = new RunsFilterModel(this);
    m_runsFilter->setSourceModel(m_runs);
    auto *runsPanel = new QWidget(this);
    auto *filterText = new QLineEdit(runsPanel);
    filterText->setPlaceholderText(tr("Filter runs"));
    filterText->setClearButtonEnabled(true);
    auto *filterStatus = new QComboBox(runsPanel);
    filterStatus->addItem(tr("All statuses"), QString());
    for (const char *status : {"running", "completed", "failed", "paused", "pending", "cancelled"})
        filterStatus->addItem(Format::statusIcon(QString::fromLatin1(status)), Format::statusText(QString::fromLatin1(status)),
                              QString::fromLatin1(status));
    connect(filterText, &QLineEdit::textChanged, m_runsFilter, &RunsFilterModel::setText);
    connect(filterStatus, &QComboBox::currentIndexChanged, this,
            [this, filterStatus](int) { m_runsFilter->setStatus(filterStatus->currentData().toString()); });
    m_runsView = new RunsTable(runsPanel);
    m_runsView->setModel(m_runsFilter);
    auto *filters = new QHBoxLayout;
    filters->addWidget(filterText, 1);
    filters->addWidget(filterStatus);
    auto *runsLayout = new QVBoxLayout(runsPanel);
    runsLayout->setContentsMargins(6, 6, 0, 0);
    runsLayout->addLayout(filters);
    runsLayout->addWidget(m_runsView, 1);
    connect(m_runsView->selectionModel(), &QItemSelectionModel::selectionChanged, this, &MainWindow::onSelectionChanged);
    m_runsView->setContextMenuPolicy(Qt::ActionsContextMenu);
    auto *deleteRuns = new QAction(tr("Delete run…"), m_runsView);
    deleteRuns->setShortcut(QKeySequence::Delete);
    deleteRuns->setShortcutContext(Qt::WidgetShortcut);
    connect(deleteRuns, &QAction::triggered, this, &MainWindow::deleteSelectedRuns);
    m_runsView->addAction(deleteRuns);

    m_runView = new RunView(m_workspace, this);
    auto *splitter = new QSplitter(Qt::Horizontal, this);
    splitter->setObjectName(QStringLiteral("mainSplitter"));
    splitter->addWidget(runsPanel);
    splitter->addWidget(m_runView);
    splitter->setStretchFactor(0, 2);
    splitter->setStretchFactor(1, 3);
    splitter->setSizes({720, 780});
    setCentralWidget(splitter);

    buildEventLog();

    // Status bar: where the server listens (click to copy), clients, load.
    m_urlLabel = new QLabel(this);
    m_urlLabel->setText(QStringLiteral("<a href=\"copy\">%1</a>").arg(m_url.toHtmlEscaped()));
    m_urlLabel->setToolTip(tr("Click to copy the server's address"));
    connect(m_urlLabel, &QLabel::linkActivated, this, [this] {
        QGuiApplication::clipboard()->setText(m_url);
        statusBar()->showMessage(tr("Copied %1").arg(m_url), 3000);
    });
    auto *openDashboard = new QToolButton(this);
    openDashboard->setText(tr("Open dashboard"));
    openDashboard->setAutoRaise(true);
    connect(openDashboard, &QToolButton::clicked, this, [this] { QDesktopServices::openUrl(QUrl(m_dashboardUrl)); });
    m_clientsLabel = new QLabel(this);
    m_rateLabel = new QLabel(this);
    m_rateLabel->setMinimumWidth(160);
    statusBar()->addPermanentWidget(new QLabel(tr("Listening on"), this));
    statusBar()->addPermanentWidget(m_urlLabel);
    statusBar()->addPermanentWidget(openDashboard);
    statusBar()->addPermanentWidget(m_clientsLabel);
    statusBar()->addPermanentWidget(m_rateLabel);
    onStatus(ViewerFeed::Status());

    // Menus.
    QMenu *file = menuBar()->addMenu(tr("&File"));
    QAction *copyUrl = file->addAction(tr("Copy server address"));
    connect(copyUrl, &QAction::triggered, this, [this] { QGuiApplication::clipboard()->setText(m_url); });
    QAction *dashboard = file->addAction(tr("Open dashboard in browser"));
    connect(dashboard, &QAction::triggered, this, [this] { QDesktopServices::openUrl(QUrl(m_dashboardUrl)); });
    file->addSeparator();
    QAction *importAction = file->addAction(tr("Import events…"));
    connect(importAction, &QAction::triggered, this, &MainWindow::importEvents);
    QAction *exportAction = file->addAction(tr("Export selected run…"));
    connect(exportAction, &QAction::triggered, this, &MainWindow::exportSelectedRun);
    file->addSeparator();
    QAction *settingsAction = file->addAction(tr("Settings…"));
    settingsAction->setShortcut(QKeySequence::Preferences);
    connect(settingsAction, &QAction::triggered, this, &MainWindow::openSettings);
    file->addSeparator();
    QAction *quit = file->addAction(tr("&Quit"));
    quit->setShortcut(QKeySequence::Quit);
    connect(quit, &QAction::triggered, this, &QWidget::close);
    QMenu *view = menuBar()->addMenu(tr("&View"));
    view->addAction(findChild<QDockWidget *>(QStringLiteral("eventLogDock"))->toggleViewAction());
    QMenu *help = menuBar()->addMenu(tr("&Help"));
    QAction *about = help->addAction(tr("About Runwatch"));
    connect(about, &QAction::triggered, this, [this] {
        QMessageBox::about(this, tr("About Runwatch"),
                           tr("<b>Runwatch %1</b><p>Watch long-running jobs live.</p><p>Producers send events to %2 "
                              "over WebSocket (/ws) or HTTP (POST /api/events).</p>")
                               .arg(QApplication::applicationVersion(), m_url.toHtmlEscaped()));
    });

    // Events arrive in batches from the server thread, at most ~30 times a second.
    connect(m_feed, &ViewerFeed::events, this, &MainWindow::onEvents);
    connect(m_feed, &ViewerFeed::status, this, &MainWindow::onStatus);
    connect(m_feed, &ViewerFeed::runRemoved, m_workspace, &Workspace::removeRun);
    connect(m_workspace, &Workspace::runsAdded, this, &MainWindow::updateLogRuns);
    connect(m_workspace, &Workspace::runRemoved, this, &MainWindow::updateLogRuns);

    // Notifications: a tray icon where the desktop has one, the status bar always.
    setWindowIcon(Format::statusIcon(QStringLiteral("running")));
    if (QSystemTrayIcon::isSystemTrayAvailable()) {
        m_tray = new QSystemTrayIcon(windowIcon(), this);
        m_tray->setToolTip(tr("Runwatch — %1").arg(m_url));
        connect(m_tray, &QSystemTrayIcon::activated, this, [this] {
            showNormal();
            raise();
            activateWindow();
        });
        m_tray->show();
    }
    // Only what happens while the window is open: the Workspace says which runs ended live.
    connect(m_workspace, &Workspace::runEnded, this, [this](const QString &id, bool failed) {
        const RunState *run = m_workspace->run(id);
        const QString name = run ? run->name() : id;
        if (!failed)
            notify(tr("Run completed"), name, false);
        else
            notify(tr("Run failed"), tr("%1: %2").arg(name, run ? run->lastError() : QString()), true);
    });
    connect(m_workspace, &Workspace::applied, this, [this](const EventBatch &batch) {
        if (m_stalled.isEmpty())
            return;
        for (const Event &event : batch) {
            if (m_stalled.remove(event.run)) {
                const RunState *run = m_workspace->run(event.run);
                statusBar()->showMessage(tr("%1 is sending again").arg(run ? run->name() : event.run), 5000);
            }
        }
    });
    m_stallSeconds = Preferences::load().stallSeconds;
    m_stallTimer.setInterval(5000);
    connect(&m_stallTimer, &QTimer::timeout, this, &MainWindow::checkStalls);
    m_stallTimer.start();

    resize(1500, 900);
    QSettings settings;
    restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray());
    restoreState(settings.value(QStringLiteral("window/state")).toByteArray());
    splitter->restoreState(settings.value(QStringLiteral("window/splitter")).toByteArray());
}

MainWindow::~MainWindow() = default;

void MainWindow::buildEventLog()
{
    m_log = new EventLogModel(20000, this);
    m_log->setWorkspace(m_workspace);
    m_logFilter = new EventLogFilter(this);
    m_logFilter->setSourceModel(m_log);
    m_logFilter->setType(QStringLiteral("-metric,token"));

    auto *panel = new QWidget(this);
    m_logRun = new QComboBox(panel);
    m_logRun->addItem(tr("All runs"), QString());
    m_logRun->setMinimumContentsLength(18);
    m_logType = new QComboBox(panel);
    m_logType->addItem(tr("All but metrics and tokens"), QStringLiteral("-metric,token"));
    m_logType->addItem(tr("All types"), QString());
    for (const char *type : {"run_started", "run_status", "progress", "metric", "step_started", "step_progress",
                             "step_completed", "step_failed", "log", "token", "result", "error", "run_completed", "run_failed"})
        m_logType->addItem(QString::fromLatin1(type), QString::fromLatin1(type));
    auto *text = new QLineEdit(panel);
    text->setPlaceholderText(tr("Filter events"));
    text->setClearButtonEnabled(true);
    auto *pause = new QToolButton(panel);
    pause->setText(tr("Pause"));
    pause->setCheckable(true);
    m_autoscroll = new QToolButton(panel);
    m_autoscroll->setText(tr("Autoscroll"));
    m_autoscroll->setCheckable(true);
    m_autoscroll->setChecked(true);
    auto *earlier = new QToolButton(panel);
    earlier->setText(tr("Load earlier"));
    earlier->setToolTip(tr("Read the 1,000 events before the oldest row from history"));
    connect(earlier, &QToolButton::clicked, this, [this] {
        const qint64 oldest = m_log->oldestSeq();
        const qint64 before = oldest > 0 ? oldest : m_workspace->lastSeq() + 1;
        const EventBatch older = m_feed->readBefore(m_logRun->currentData().toString(), before, 1000);
        m_autoscroll->setChecked(false);
        m_log->prepend(older);
        statusBar()->showMessage(older.isEmpty() ? tr("No earlier events.") : tr("Loaded %n earlier event(s).", nullptr, int(older.size())), 4000);
    });
    auto *clear = new QToolButton(panel);
    clear->setText(tr("Clear"));
    connect(m_logRun, &QComboBox::currentIndexChanged, this, [this](int) { m_logFilter->setRun(m_logRun->currentData().toString()); });
    connect(m_logType, &QComboBox::currentIndexChanged, this, [this](int) { m_logFilter->setType(m_logType->currentData().toString()); });
    connect(text, &QLineEdit::textChanged, m_logFilter, &EventLogFilter::setText);
    connect(pause, &QToolButton::toggled, this, [this, pause](bool on) {
        m_log->setPaused(on);
        pause->setText(on ? tr("Resume") : tr("Pause"));
    });
    connect(clear, &QToolButton::clicked, m_log, &EventLogModel::clear);

    m_logView = new EventLogTable(panel);
    m_logView->setModel(m_logFilter);
    // Leave autoscroll when the user scrolls up; take it up again at the bottom.
    connect(m_logView->verticalScrollBar(), &QScrollBar::valueChanged, this, [this](int value) {
        if (m_logView->verticalScrollBar()->isSliderDown())
            m_autoscroll->setChecked(value == m_logView->verticalScrollBar()->maximum());
    });

    auto *bar = new QHBoxLayout;
    bar->addWidget(m_logRun);
    bar->addWidget(m_logType);
    bar->addWidget(text, 1);
    bar->addWidget(earlier);
    bar->addWidget(pause);
    bar->addWidget(m_autoscroll);
    bar->addWidget(clear);
    auto *layout = new QVBoxLayout(panel);
    layout->setContentsMargins(4, 2, 4, 2);
    layout->addLayout(bar);
    layout->addWidget(m_logView, 1);

    auto *dock = new QDockWidget(tr("Event log"), this);
    dock->setObjectName(QStringLiteral("eventLogDock"));
    dock->setWidget(panel);
    addDockWidget(Qt::BottomDockWidgetArea, dock);
    resizeDocks({dock}, {230}, Qt::Vertical);
}

void MainWindow::updateLogRuns()
{
    const QString current = m_logRun->currentData().toString();
    m_logRun->blockSignals(true);
    while (m_logRun->count() > 1)
        m_logRun->removeItem(1);
    // Runs by name; a name that two runs share gets the id too.
    QHash<QString, int> uses;
    for (const QString &id : m_workspace->runIds())
        ++uses[m_workspace->run(id)->name()];
    for (const QString &id : m_workspace->runIds()) {
        const QString name = m_workspace->run(id)->name();
        m_logRun->addItem(uses.value(name) > 1 && name != id ? tr("%1 (%2)").arg(name, id) : name, id);
        m_logRun->setItemData(m_logRun->count() - 1, id, Qt::ToolTipRole);
    }
    const int index = m_logRun->findData(current);
    m_logRun->setCurrentIndex(index < 0 ? 0 : index);
    m_logRun->blockSignals(false);
    if (index < 0 && !current.isEmpty())
        m_logFilter->setRun(QString());
}

void MainWindow::onEvents(const EventBatch &batch)
{
    m_workspace->apply(batch);
    m_log->append(batch);
    m_feed->consumed(); // ready for the next batch
    if (m_autoscroll->isChecked())
        m_logView->scrollToBottom();
    // A first launch shows something at once: the first run that has metrics.
    if (!m_autoSelected && m_runsView->selectionModel()->selectedRows().isEmpty()) {
        for (const QString &id : m_workspace->runIds()) {
            const RunState *run = m_workspace->run(id);
            if (run && !run->metricNames().isEmpty()) {
                selectRun(id);
                m_autoSelected = true;
                break;
            }
        }
    }
}

void MainWindow::selectRun(const QString &run)
{
    const int row = m_runs->rowOf(run);
    if (row < 0)
        return;
    const QModelIndex index = m_runsFilter->mapFromSource(m_runs->index(row, 0));
    if (!index.isValid())
        return;
    m_runsView->selectionModel()->select(index, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    m_runsView->scrollTo(index);
}

void MainWindow::onStatus(const ViewerFeed::Status &status)
{
    m_clientsLabel->setText(tr("%n client(s)", nullptr, status.clients));
    m_rateLabel->setText(tr("%1 events/s · %2 total").arg(Format::count(qint64(status.eventsPerSecond + 0.5)),
                                                          Format::count(status.lastSeq)));
}

void MainWindow::onSelectionChanged()
{
    QStringList runs;
    const QModelIndexList rows = m_runsView->selectionModel()->selectedRows();
    for (const QModelIndex &index : rows)
        runs.append(index.data(RunsModel::RunIdRole).toString());
    if (!runs.isEmpty())
        m_autoSelected = true;
    m_runView->setRuns(runs);
}

void MainWindow::deleteSelectedRuns()
{
    QStringList runs;
    const QModelIndexList rows = m_runsView->selectionModel()->selectedRows();
    for (const QModelIndex &index : rows)
        runs.append(index.data(RunsModel::RunIdRole).toString());
    if (runs.isEmpty())
        return;
    const QString question = runs.size() == 1
        ? tr("Delete the run \"%1\" and all of its history? This cannot be undone.").arg(runs.first())
        : tr("Delete %n runs and all of their history? This cannot be undone.", nullptr, int(runs.size()));
    if (QMessageBox::question(this, tr("Delete run"), question, QMessageBox::Yes | QMessageBox::Cancel, QMessageBox::Cancel)
        != QMessageBox::Yes)
        return;
    for (const QString &run : std::as_const(runs))
        m_feed->requestRemoveRun(run);
}

void MainWindow::exportSelectedRun()
{
    const QModelIndexList rows = m_runsView->selectionModel()->selectedRows();
    if (rows.isEmpty()) {
        statusBar()->showMessage(tr("Select a run to export first."), 5000);
        return;
    }
    const QString run = rows.first().data(RunsModel::RunIdRole).toString();
    QString filter;
    const QString jsonl = tr("Events as JSON Lines (*.jsonl)");
    const QString csv = tr("Metrics as CSV (*.csv)");
    QString file = QFileDialog::getSaveFileName(this, tr("Export run"), run + QStringLiteral(".jsonl"),
                                                jsonl + QStringLiteral(";;") + csv, &filter);
    if (file.isEmpty())
        return;
    const bool asCsv = filter == csv || file.endsWith(QLatin1String(".csv"), Qt::CaseInsensitive);
    QSaveFile out(file);
    QString error;
    if (!out.open(QIODevice::WriteOnly)
        || !Transfer::exportRun(m_dataDir, run, asCsv ? Transfer::Format::Csv : Transfer::Format::JsonLines, &out, &error)
        || !out.commit()) {
        QMessageBox::warning(this, tr("Export run"), error.isEmpty() ? out.errorString() : error);
        return;
    }
    statusBar()->showMessage(tr("Exported %1 to %2").arg(run, file), 5000);
}

void MainWindow::importEvents()
{
    const QString file = QFileDialog::getOpenFileName(this, tr("Import events"), QString(),
                                                      tr("JSON Lines (*.jsonl *.ndjson *.json);;All files (*)"));
    if (file.isEmpty())
        return;
    Transfer::ReadResult result;
    QString error;
    const bool ok = Transfer::readEvents(
        file, [this](const QJsonArray &chunk, QString *sinkError) {
            *sinkError = m_feed->publish(chunk);
            return sinkError->isEmpty();
        },
        &result, &error);
    QString message = tr("Imported %n event(s)", nullptr, int(result.events));
    if (!result.skipped.isEmpty())
        message += tr("; %n line(s) skipped:\n", nullptr, int(result.skipped.size()))
            + QStringList(result.skipped.mid(0, 10)).join(QLatin1Char('\n'));
    if (!ok)
        message += QLatin1Char('\n') + error;
    if (!ok || !result.skipped.isEmpty())
        QMessageBox::warning(this, tr("Import events"), message);
    else
        statusBar()->showMessage(message, 5000);
}

void MainWindow::notify(const QString &title, const QString &message, bool failure)
{
    if (m_tray && m_tray->isVisible())
        m_tray->showMessage(title, message, failure ? QSystemTrayIcon::Warning : QSystemTrayIcon::Information, 8000);
    statusBar()->showMessage(QStringLiteral("%1: %2").arg(title, message), 8000);
    Q_EMIT notified(title, message);
}

void MainWindow::checkStalls()
{
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    for (const QString &id : m_workspace->silentRuns(now, qint64(m_stallSeconds) * 1000)) {
        const RunState *run = m_workspace->run(id);
        if (!run || m_stalled.contains(id))
            continue;
        m_stalled.insert(id);
        notify(tr("Run stalled"),
               tr("%1 has sent nothing for %2").arg(run->name(), Format::duration((now - run->updatedMs()) / 1000.0)), true);
    }
}

void MainWindow::openSettings()
{
    SettingsDialog dialog(Preferences::load(), this);
    if (dialog.exec() != QDialog::Accepted)
        return;
    const Preferences preferences = dialog.preferences();
    preferences.save();
    m_stallSeconds = preferences.stallSeconds;
    applyTheme(preferences.theme);
    statusBar()->showMessage(tr("Settings saved. Address, port and tokens apply at the next start."), 8000);
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    QSettings settings;
    settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
    settings.setValue(QStringLiteral("window/state"), saveState());
    if (auto *splitter = findChild<QSplitter *>(QStringLiteral("mainSplitter")))
        settings.setValue(QStringLiteral("window/splitter"), splitter->saveState());
    event->accept();
}

} // namespace Runwatch
