#include "demoproducer.h"
#include "options.h"
#include "server.h"
#include "signalwatcher.h"
#include "version.h"

#include <QCoreApplication>

#include <cstdio>
#include <memory>

using namespace Runwatch;

namespace {

int fail(const QString &message)
{
    std::fprintf(stderr, "runwatch: %s\n", qPrintable(message));
    return 2;
}

int runHeadless(QCoreApplication &app, const AppOptions &options)
{
    Server server(options.server);
    QString error;
    if (!server.start(&error))
        return fail(error);
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

    std::unique_ptr<DemoProducer> demo;
    if (options.demo) {
        demo = std::make_unique<DemoProducer>(QUrl(server.url()), options.server.token);
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

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication::setApplicationName(QStringLiteral("runwatch"));
    QCoreApplication::setOrganizationName(QStringLiteral("runwatch"));
    QCoreApplication::setApplicationVersion(QStringLiteral(RUNWATCH_VERSION));

    QCoreApplication app(argc, argv);
    AppOptions options;
    QString error;
    if (!parseOptions(app.arguments(), &options, &error))
        return fail(error);
    return runHeadless(app, options);
}
