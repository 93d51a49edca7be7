#include "demoproducer.h"
#include "hub.h"
#include "mainwindow.h"
#include "options.h"
#include "sendcommand.h"
#include "server.h"
#include "settingsdialog.h"
#include "signalwatcher.h"
#include "transfer.h"
#include "version.h"
#include "viewerfeed.h"
#include "workspace.h"

#include <QApplication>
#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QLibraryInfo>
#include <QLocale>
#include <QTimer>
#include <QTranslator>

#include <cstdio>
#include <cstring>
#include <memory>

#include <sys/resource.h>

using namespace Runwatch;

namespace {

int fail(const QString &message)
{
    std::fprintf(stderr, "runwatch: %s\n", qPrintable(message));
    return 2;
}

// Every connection is a descriptor, and the default soft limit (often 1024) is far below the
// connection limit: raise it as far as the hard limit allows, and say so when that is not enough.
void raiseFileLimit(const ServerConfig &config)
{
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
        return;
    const rlim_t wanted = rlim_t(config.maxConnections) + 256;
    if (limit.rlim_cur < wanted && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : qMin(wanted, limit.rlim_max);
        setrlimit(RLIMIT_NOFILE, &limit);
        getrlimit(RLIMIT_NOFILE, &limit);
    }
    if (limit.rlim_cur < wanted)
        std::fprintf(stderr,
                     "runwatch: the open-file limit is %llu (ulimit -n), below --max-connections %d: about %llu "
                     "connections can be held, later ones are refused\n",
                     static_cast<unsigned long long>(limit.rlim_cur), config.maxConnections,
                     static_cast<unsigned long long>(limit.rlim_cur > 256 ? limit.rlim_cur - 256 : 0));
}

void announce(const Server &server, const AppOptions &options)
{
    if (options.tokenGenerated) {
        std::fprintf(stderr,
                     "runwatch: listening on a non-loopback address without --token; generated this token:\n"
                     "    %s\n"
                     "runwatch: send it as 'Authorization: Bearer <token>', ?token=<token> or the auth op; "
                     "dashboard: %s/?token=%s\n",
                     qPrintable(options.server.token), qPrintable(server.url()), qPrintable(options.server.token));
        std::fflush(stderr);
    }
    std::printf("runwatch listening on %s\n", qPrintable(server.url()));
    std::fflush(stdout);
}

void installTranslations(QCoreApplication &app, const QString &lang)
{
    const QLocale locale = lang.isEmpty() ? QLocale() : QLocale(lang);
    if (!lang.isEmpty())
        QLocale::setDefault(locale);
    auto *own = new QTranslator(&app);
    if (own->load(locale, QStringLiteral("runwatch"), QStringLiteral("_"), QStringLiteral(":/i18n")))
        QCoreApplication::installTranslator(own);
    auto *qt = new QTranslator(&app);
    if (qt->load(locale, QStringLiteral("qtbase"), QStringLiteral("_"), QLibraryInfo::path(QLibraryInfo::TranslationsPath)))
        QCoreApplication::installTranslator(qt);
}

// The options that make this a run without any window, looked at before Qt starts: a window
// needs QApplication (and a display), a server does not.
bool wantsHeadless(int argc, char *argv[])
{
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--headless") || !std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")
            || !std::strcmp(argv[i], "--version") || !std::strcmp(argv[i], "-v") || !std::strcmp(argv[i], "--help-all"))
            return true;
    }
    return false;
}

bool haveDisplay()
{
    if (qEnvironmentVariableIsSet("QT_QPA_PLATFORM"))
        return true;
#if defined(Q_OS_UNIX) && !defined(Q_OS_MACOS)
    return qEnvironmentVariableIsSet("DISPLAY") || qEnvironmentVariableIsSet("WAYLAND_DISPLAY");
#else
    return true;
#endif
}

int runHeadless(QCoreApplication &app, const AppOptions &options)
{
    Server server(options.server);
    QString error;
    if (!server.start(&error))
        return fail(error);
    announce(server, options);

    std::unique_ptr<DemoProducer> demo;
    if (options.demo) {
        demo = std::make_unique<DemoProducer>(QUrl(server.url()), options.server.token, options.demoSpeed);
        demo->start();
    }
    SignalWatcher signals;
    QObject::connect(&signals, &SignalWatcher::terminationRequested, &app, [&](int) {
        demo.reset();
        server.stop();
        app.exit(0);
    });
    return app.exec();
}

int runWindow(QApplication &app, const AppOptions &options)
{
    Server server(options.server);
    QString error;
    if (!server.start(&error))
        return fail(error);
    announce(server, options);

    // What is stored now is history: the window shows it but raises no notification for it.
    qint64 historyEnd = 0;
    QMetaObject::invokeMethod(server.hub(), [&] { historyEnd = server.hub()->lastSeq(); }, Qt::BlockingQueuedConnection);
    ViewerFeed *feed = server.createViewerFeed();
    auto window = std::make_unique<MainWindow>(feed, server.url(), options.server.token, options.server.dataDir);
    window->workspace()->setHistoryEnd(historyEnd, QDateTime::currentMSecsSinceEpoch());
    std::unique_ptr<DemoProducer> demo;
    if (options.demo) {
        demo = std::make_unique<DemoProducer>(QUrl(server.url()), options.server.token, options.demoSpeed);
        demo->start();
    }
    window->show();

    if (!options.screenshot.isEmpty()) {
        // Let the window settle (and the demo produce a few seconds of data), then save it.
        const int delayMs = options.demo ? 4000 : 1200;
        QTimer::singleShot(delayMs, window.get(), [&] {
            const bool saved = window->grab().save(options.screenshot, "PNG");
            if (!saved)
                std::fprintf(stderr, "runwatch: cannot write screenshot %s\n", qPrintable(options.screenshot));
            app.exit(saved ? 0 : 1);
        });
    }

    SignalWatcher signals;
    QObject::connect(&signals, &SignalWatcher::terminationRequested, &app, [&](int) { app.exit(0); });
    app.setQuitOnLastWindowClosed(true);
    const int code = app.exec();
    demo.reset();
    window.reset();
    server.stop();
    return code;
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication::setApplicationName(QStringLiteral("runwatch"));
    QCoreApplication::setOrganizationName(QStringLiteral("runwatch"));
    QCoreApplication::setApplicationVersion(QStringLiteral(RUNWATCH_VERSION));

    if (argc > 1 && !std::strcmp(argv[1], "send")) {
        QCoreApplication app(argc, argv);
        return sendCommand(app.arguments());
    }
    if (argc > 1 && (!std::strcmp(argv[1], "export") || !std::strcmp(argv[1], "import"))) {
        QCoreApplication app(argc, argv);
        QStringList arguments = app.arguments();
        return !std::strcmp(argv[1], "export") ? Transfer::exportCommand(arguments) : Transfer::importCommand(arguments);
    }
    if (wantsHeadless(argc, argv)) {
        // Without a window nothing needs GLib's main loop, and Qt's own poll loop costs less per
        // socket notifier: measured with 100 subscribers, about 10 % less CPU per delivered frame
        // and a lower tail latency (docs/benchmarks.md). Set before any thread exists; a value
        // the user set wins.
        if (!qEnvironmentVariableIsSet("QT_NO_GLIB"))
            qputenv("QT_NO_GLIB", "1");
        QCoreApplication app(argc, argv);
        AppOptions options;
        QString error;
        if (!parseOptions(app.arguments(), &options, &error))
            return fail(error);
        installTranslations(app, options.lang);
        raiseFileLimit(options.server);
        return runHeadless(app, options);
    }
    {
        // A mistyped flag is a mistake on the command line, whether or not there is a display:
        // say so first. (Only the command line here; the saved settings are added below.)
        QStringList arguments;
        for (int i = 0; i < argc; ++i)
            arguments.append(QString::fromLocal8Bit(argv[i]));
        AppOptions options;
        QString error;
        if (!parseOptions(arguments, &options, &error))
            return fail(error);
    }
    if (!haveDisplay()) {
        std::fprintf(stderr, "runwatch: no display to open the window on (DISPLAY is not set); "
                             "use --headless to serve without a window\n");
        return 2;
    }
    QApplication app(argc, argv);
    QApplication::setApplicationDisplayName(QStringLiteral("Runwatch"));
    // Saved settings first, the command line after them: a flag given by hand wins.
    const Preferences preferences = Preferences::load();
    QStringList arguments = app.arguments();
    arguments = arguments.mid(0, 1) + preferences.serverArguments() + arguments.mid(1);
    AppOptions options;
    QString error;
    if (!parseOptions(arguments, &options, &error))
        return fail(error);
    installTranslations(app, options.lang);
    raiseFileLimit(options.server);
    applyTheme(preferences.theme);
    return runWindow(app, options);
}
