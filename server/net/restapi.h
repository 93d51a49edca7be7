#pragma once

#include "config.h"
#include "http.h"
#include "ratelimit.h"

namespace Runwatch {

class Hub;
class ServerStatus;

// The REST half of the contract. Runs on the server thread; answers synchronously.
class RestApi
{
public:
    RestApi(const ServerConfig &config, Hub *hub, const ServerStatus *status);

    // `peer` is the client's address: HTTP producers are rate limited per address.
    HttpResponse handle(const HttpRequest &request, Role role, bool wrongToken, const QString &peer = QString());

private:
    enum class Need { Nothing, Read, Publish, Admin };
    struct Call {
        const HttpRequest &request;
        Role role;
        const QString &peer;
        QString run;   // {run}
        QString param; // {name} or {name...}
    };
    struct Route {
        const char *methods;   // as in an Allow header
        const char *pattern;
        Need need;
        const char *forbidden; // the FORBIDDEN message when the role lacks `need` (%1: the role)
        HttpResponse (*handler)(RestApi &api, const Call &call);
    };
    static const Route Routes[];
    static bool matches(const char *pattern, const QStringList &path, QString *run, QString *param);

    HttpResponse dashboard() const;
    HttpResponse asset(const QString &name) const;
    HttpResponse healthz() const;
    HttpResponse prometheus() const;
    HttpResponse runs() const;
    HttpResponse run(const QString &id) const;
    HttpResponse events(const QString &id, const HttpRequest &request) const;
    HttpResponse metricNames(const QString &id, const HttpRequest &request) const;
    HttpResponse steps(const QString &id, const HttpRequest &request) const;
    HttpResponse metricSeries(const QString &id, const QString &name, const HttpRequest &request) const;
    HttpResponse postEvents(const HttpRequest &request, const QString &peer);
    HttpResponse deleteRun(const QString &id);
    HttpResponse clients() const;
    HttpResponse subscribers(const QString &id) const;

    const ServerConfig &m_config;
    Hub *m_hub;
    const ServerStatus *m_status;
    LimiterTable m_limiters;
};

} // namespace Runwatch
