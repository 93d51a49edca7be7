<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="de_DE">
<context>
    <name>Format</name>
    <message>
        <source>%1d %2h</source>
        <translation>%1d %2h</translation>
    </message>
    <message>
        <source>%1h %2m</source>
        <translation>%1h %2m</translation>
    </message>
    <message>
        <source>%1m %2s</source>
        <translation>%1m %2s</translation>
    </message>
    <message>
        <source>%1s</source>
        <translation>%1s</translation>
    </message>
    <message>
        <source>running</source>
        <translation>läuft</translation>
    </message>
    <message>
        <source>completed</source>
        <translation>abgeschlossen</translation>
    </message>
    <message>
        <source>failed</source>
        <translation>fehlgeschlagen</translation>
    </message>
    <message>
        <source>paused</source>
        <translation>pausiert</translation>
    </message>
    <message>
        <source>cancelled</source>
        <translation>abgebrochen</translation>
    </message>
    <message>
        <source>pending</source>
        <translation>wartend</translation>
    </message>
    <message>
        <source>stalled</source>
        <translation>hängt</translation>
    </message>
    <message>
        <source>%1 %</source>
        <translation>%1 %</translation>
    </message>
    <message>
        <source>stopped early</source>
        <translation>vorzeitig beendet</translation>
    </message>
    <message>
        <source>stopped at %1 of %2</source>
        <translation>beendet bei %1 von %2</translation>
    </message>
    <message>
        <source>samples/s</source>
        <translation>Samples/s</translation>
    </message>
    <message>
        <source>tokens/s</source>
        <translation>Tokens/s</translation>
    </message>
    <message>
        <source>steps/s</source>
        <translation>Steps/s</translation>
    </message>
    <message>
        <source>events/s</source>
        <translation>Ereignisse/s</translation>
    </message>
    <message>
        <source>it/s</source>
        <translation>it/s</translation>
    </message>
</context>
<context>
    <name>Runwatch::EventLogModel</name>
    <message>
        <source>  epoch %1</source>
        <translation>  Epoche %1</translation>
    </message>
    <message>
        <source>  @ step %1</source>
        <translation>  @ Step %1</translation>
    </message>
    <message>
        <source>Time</source>
        <translation>Zeit</translation>
    </message>
    <message>
        <source>Run</source>
        <translation>Run</translation>
    </message>
    <message>
        <source>Type</source>
        <translation>Typ</translation>
    </message>
    <message>
        <source>Summary</source>
        <translation>Zusammenfassung</translation>
    </message>
</context>
<context>
    <name>Runwatch::MainWindow</name>
    <message>
        <source>Runwatch</source>
        <translation>Runwatch</translation>
    </message>
    <message>
        <source>Filter runs</source>
        <translation>Runs filtern</translation>
    </message>
    <message>
        <source>All statuses</source>
        <translation>Alle Status</translation>
    </message>
    <message>
        <source>Click to copy the server&apos;s address</source>
        <translation>Klicken, um die Serveradresse zu kopieren</translation>
    </message>
    <message>
        <source>Copied %1</source>
        <translation>%1 kopiert</translation>
    </message>
    <message>
        <source>Open dashboard</source>
        <translation>Dashboard öffnen</translation>
    </message>
    <message>
        <source>Listening on</source>
        <translation>Lauscht auf</translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation>&amp;Datei</translation>
    </message>
    <message>
        <source>Copy server address</source>
        <translation>Serveradresse kopieren</translation>
    </message>
    <message>
        <source>Open dashboard in browser</source>
        <translation>Dashboard im Browser öffnen</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>&amp;Beenden</translation>
    </message>
    <message>
        <source>&amp;View</source>
        <translation>&amp;Ansicht</translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation>&amp;Hilfe</translation>
    </message>
    <message>
        <source>About Runwatch</source>
        <translation>Über Runwatch</translation>
    </message>
    <message>
        <source>&lt;b&gt;Runwatch %1&lt;/b&gt;&lt;p&gt;Watch long-running jobs live.&lt;/p&gt;&lt;p&gt;Producers send events to %2 over WebSocket (/ws) or HTTP (POST /api/events).&lt;/p&gt;</source>
        <translation>&lt;b&gt;Runwatch %1&lt;/b&gt;&lt;p&gt;Lang laufende Jobs live beobachten.&lt;/p&gt;&lt;p&gt;Producer senden Ereignisse per WebSocket (/ws) oder HTTP (POST /api/events) an %2.&lt;/p&gt;</translation>
    </message>
    <message>
        <source>All runs</source>
        <translation>Alle Runs</translation>
    </message>
    <message>
        <source>All but metrics and tokens</source>
        <translation>Alle außer Metriken und Tokens</translation>
    </message>
    <message>
        <source>All types</source>
        <translation>Alle Typen</translation>
    </message>
    <message>
        <source>Filter events</source>
        <translation>Ereignisse filtern</translation>
    </message>
    <message>
        <source>Pause</source>
        <translation>Pausieren</translation>
    </message>
    <message>
        <source>Autoscroll</source>
        <translation>Mitscrollen</translation>
    </message>
    <message>
        <source>Clear</source>
        <translation>Leeren</translation>
    </message>
    <message>
        <source>Resume</source>
        <translation>Fortsetzen</translation>
    </message>
    <message>
        <source>Event log</source>
        <translation>Ereignisprotokoll</translation>
    </message>
    <message numerus="yes">
        <source>%n client(s)</source>
        <translation>
            <numerusform>%n Client</numerusform>
            <numerusform>%n Clients</numerusform>
        </translation>
    </message>
    <message>
        <source>%1 events/s · %2 total</source>
        <translation>%1 Ereignisse/s · %2 gesamt</translation>
    </message>
    <message>
        <source>Settings…</source>
        <translation>Einstellungen…</translation>
    </message>
    <message>
        <source>Runwatch — %1</source>
        <translation>Runwatch — %1</translation>
    </message>
    <message>
        <source>Run completed</source>
        <translation>Run abgeschlossen</translation>
    </message>
    <message>
        <source>Run failed</source>
        <translation>Run fehlgeschlagen</translation>
    </message>
    <message>
        <source>%1: %2</source>
        <translation>%1: %2</translation>
    </message>
    <message>
        <source>%1 is sending again</source>
        <translation>%1 sendet wieder</translation>
    </message>
    <message>
        <source>Run stalled</source>
        <translation>Run hängt</translation>
    </message>
    <message>
        <source>%1 has sent nothing for %2</source>
        <translation>%1 hat seit %2 nichts gesendet</translation>
    </message>
    <message>
        <source>Settings saved. Address, port and tokens apply at the next start.</source>
        <translation>Einstellungen gespeichert. Adresse, Port und Tokens gelten ab dem nächsten Start.</translation>
    </message>
    <message>
        <source>Delete run…</source>
        <translation>Run löschen…</translation>
    </message>
    <message>
        <source>Import events…</source>
        <translation>Ereignisse importieren…</translation>
    </message>
    <message>
        <source>Export selected run…</source>
        <translation>Ausgewählten Run exportieren…</translation>
    </message>
    <message>
        <source>Load earlier</source>
        <translation>Frühere laden</translation>
    </message>
    <message>
        <source>Read the 1,000 events before the oldest row from history</source>
        <translation>Die 1.000 Ereignisse vor der ältesten Zeile aus dem Verlauf lesen</translation>
    </message>
    <message>
        <source>No earlier events.</source>
        <translation>Keine früheren Ereignisse.</translation>
    </message>
    <message numerus="yes">
        <source>Loaded %n earlier event(s).</source>
        <translation>
            <numerusform>%n früheres Ereignis geladen.</numerusform>
            <numerusform>%n frühere Ereignisse geladen.</numerusform>
        </translation>
    </message>
    <message>
        <source>Delete the run &quot;%1&quot; and all of its history? This cannot be undone.</source>
        <translation>Den Run „%1“ und seinen ganzen Verlauf löschen? Das lässt sich nicht rückgängig machen.</translation>
    </message>
    <message numerus="yes">
        <source>Delete %n runs and all of their history? This cannot be undone.</source>
        <translation>
            <numerusform>%n Run und seinen ganzen Verlauf löschen? Das lässt sich nicht rückgängig machen.</numerusform>
            <numerusform>%n Runs und ihren ganzen Verlauf löschen? Das lässt sich nicht rückgängig machen.</numerusform>
        </translation>
    </message>
    <message>
        <source>Delete run</source>
        <translation>Run löschen</translation>
    </message>
    <message>
        <source>Select a run to export first.</source>
        <translation>Wählen Sie zuerst einen Run zum Exportieren aus.</translation>
    </message>
    <message>
        <source>Events as JSON Lines (*.jsonl)</source>
        <translation>Ereignisse als JSON Lines (*.jsonl)</translation>
    </message>
    <message>
        <source>Metrics as CSV (*.csv)</source>
        <translation>Metriken als CSV (*.csv)</translation>
    </message>
    <message>
        <source>Export run</source>
        <translation>Run exportieren</translation>
    </message>
    <message>
        <source>Exported %1 to %2</source>
        <translation>%1 nach %2 exportiert</translation>
    </message>
    <message>
        <source>Import events</source>
        <translation>Ereignisse importieren</translation>
    </message>
    <message>
        <source>JSON Lines (*.jsonl *.ndjson *.json);;All files (*)</source>
        <translation>JSON Lines (*.jsonl *.ndjson *.json);;Alle Dateien (*)</translation>
    </message>
    <message numerus="yes">
        <source>Imported %n event(s)</source>
        <translation>
            <numerusform>%n Ereignis importiert</numerusform>
            <numerusform>%n Ereignisse importiert</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>; %n line(s) skipped:
</source>
        <translation>
            <numerusform>; %n Zeile übersprungen:
</numerusform>
            <numerusform>; %n Zeilen übersprungen:
</numerusform>
        </translation>
    </message>
    <message>
        <source>%1 (%2)</source>
        <translation>%1 (%2)</translation>
    </message>
</context>
<context>
    <name>Runwatch::MetricChart</name>
    <message>
        <source>seconds</source>
        <translation>Sekunden</translation>
    </message>
    <message>
        <source>step</source>
        <translation>Step</translation>
    </message>
    <message>
        <source>NaN / Inf</source>
        <translation>NaN / Inf</translation>
    </message>
    <message>
        <source>non-finite value</source>
        <translation>nicht endlicher Wert</translation>
    </message>
    <message>
        <source>%1 — %2 from %3 %4</source>
        <translation>%1 — %2 ab %3 %4</translation>
    </message>
    <message>
        <source>second</source>
        <translation>Sekunde</translation>
    </message>
    <message>
        <source>%1: %2 %3, value %4</source>
        <translation>%1: %2 %3, Wert %4</translation>
    </message>
</context>
<context>
    <name>Runwatch::RunView</name>
    <message>
        <source>x: step</source>
        <translation>x: Step</translation>
    </message>
    <message>
        <source>x: time</source>
        <translation>x: Zeit</translation>
    </message>
    <message>
        <source>Exponential moving average; the raw line stays faint behind</source>
        <translation>Exponentieller gleitender Durchschnitt; die Rohkurve bleibt blass im Hintergrund</translation>
    </message>
    <message>
        <source>log y</source>
        <translation>log y</translation>
    </message>
    <message>
        <source>Reset zoom</source>
        <translation>Zoom zurücksetzen</translation>
    </message>
    <message>
        <source>Export</source>
        <translation>Exportieren</translation>
    </message>
    <message>
        <source>Charts as PNG…</source>
        <translation>Diagramme als PNG…</translation>
    </message>
    <message>
        <source>Smoothing</source>
        <translation>Glättung</translation>
    </message>
    <message>
        <source>No metrics yet. Send a &quot;metric&quot; event, for example {&quot;step&quot;: 1, &quot;loss&quot;: 0.5}.</source>
        <translation>Noch keine Metriken. Senden Sie ein &quot;metric&quot;-Ereignis, zum Beispiel {&quot;step&quot;: 1, &quot;loss&quot;: 0.5}.</translation>
    </message>
    <message>
        <source>Key</source>
        <translation>Schlüssel</translation>
    </message>
    <message>
        <source>Value</source>
        <translation>Wert</translation>
    </message>
    <message>
        <source>Charts</source>
        <translation>Diagramme</translation>
    </message>
    <message>
        <source>Steps</source>
        <translation>Schritte</translation>
    </message>
    <message>
        <source>Output</source>
        <translation>Ausgabe</translation>
    </message>
    <message>
        <source>Config</source>
        <translation>Konfiguration</translation>
    </message>
    <message>
        <source>No run selected</source>
        <translation>Kein Run ausgewählt</translation>
    </message>
    <message>
        <source>Runs appear on the left as soon as a producer sends their first event.</source>
        <translation>Runs erscheinen links, sobald ein Producer ihr erstes Ereignis sendet.</translation>
    </message>
    <message numerus="yes">
        <source>  (+%n more)</source>
        <translation>
            <numerusform>  (+%n weiterer)</numerusform>
            <numerusform>  (+%n weitere)</numerusform>
        </translation>
    </message>
    <message>
        <source>epoch %1/%2</source>
        <translation>Epoche %1/%2</translation>
    </message>
    <message>
        <source>epoch %1</source>
        <translation>Epoche %1</translation>
    </message>
    <message>
        <source>step %1/%2</source>
        <translation>Step %1/%2</translation>
    </message>
    <message>
        <source>step %1</source>
        <translation>Step %1</translation>
    </message>
    <message>
        <source>ETA %1</source>
        <translation>Restzeit %1</translation>
    </message>
    <message>
        <source>elapsed %1</source>
        <translation>Laufzeit %1</translation>
    </message>
    <message>
        <source>GPU %1 GB</source>
        <translation>GPU %1 GB</translation>
    </message>
    <message numerus="yes">
        <source>%n error(s)</source>
        <translation>
            <numerusform>%n Fehler</numerusform>
            <numerusform>%n Fehler</numerusform>
        </translation>
    </message>
    <message>
        <source>tags</source>
        <translation>Tags</translation>
    </message>
    <message>
        <source>Export charts as PNG</source>
        <translation>Diagramme als PNG exportieren</translation>
    </message>
    <message>
        <source>Could not write:
%1</source>
        <translation>Konnte nicht geschrieben werden:
%1</translation>
    </message>
    <message>
        <source>success %1 of %2</source>
        <translation>Erfolg %1 von %2</translation>
    </message>
    <message>
        <source>Metrics as CSV table…</source>
        <translation>Metriken als CSV-Tabelle…</translation>
    </message>
    <message numerus="yes">
        <source>%n metric(s) named %1/…; click to show or hide them</source>
        <translation>
            <numerusform>%n Metrik namens %1/…; klicken zum Ein- oder Ausblenden</numerusform>
            <numerusform>%n Metriken namens %1/…; klicken zum Ein- oder Ausblenden</numerusform>
        </translation>
    </message>
    <message>
        <source>Export metrics as CSV (one file per run)</source>
        <translation>Metriken als CSV exportieren (eine Datei pro Run)</translation>
    </message>
</context>
<context>
    <name>Runwatch::RunsModel</name>
    <message>
        <source>Last error: %1</source>
        <translation>Letzter Fehler: %1</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>Status</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>Name</translation>
    </message>
    <message>
        <source>Kind</source>
        <translation>Art</translation>
    </message>
    <message>
        <source>Progress</source>
        <translation>Fortschritt</translation>
    </message>
    <message>
        <source>Epoch</source>
        <translation>Ep.</translation>
    </message>
    <message>
        <source>Step</source>
        <translation>Step</translation>
    </message>
    <message>
        <source>Loss</source>
        <translation>Loss</translation>
    </message>
    <message>
        <source>Throughput</source>
        <translation>Durchsatz</translation>
    </message>
    <message>
        <source>ETA</source>
        <translation>Restzeit</translation>
    </message>
    <message>
        <source>Elapsed</source>
        <translation>Laufzeit</translation>
    </message>
    <message>
        <source>%1, %2</source>
        <translation>%1, %2</translation>
    </message>
</context>
<context>
    <name>Runwatch::SettingsDialog</name>
    <message>
        <source>Settings</source>
        <translation>Einstellungen</translation>
    </message>
    <message>
        <source>none (loopback only)</source>
        <translation>keiner (nur Loopback)</translation>
    </message>
    <message>
        <source> s</source>
        <translation> s</translation>
    </message>
    <message>
        <source>System</source>
        <translation>System</translation>
    </message>
    <message>
        <source>Light</source>
        <translation>Hell</translation>
    </message>
    <message>
        <source>Dark</source>
        <translation>Dunkel</translation>
    </message>
    <message>
        <source>Listen on address</source>
        <translation>Adresse zum Lauschen</translation>
    </message>
    <message>
        <source>Port</source>
        <translation>Port</translation>
    </message>
    <message>
        <source>Producer/admin token</source>
        <translation>Producer-/Admin-Token</translation>
    </message>
    <message>
        <source>Viewer token</source>
        <translation>Viewer-Token</translation>
    </message>
    <message>
        <source>Server settings take effect at the next start. Any address other than 127.0.0.1 or ::1 always needs a token.</source>
        <translation>Server-Einstellungen gelten ab dem nächsten Start. Jede andere Adresse als 127.0.0.1 oder ::1 braucht immer ein Token.</translation>
    </message>
    <message>
        <source>Warn when a running run is silent for</source>
        <translation>Warnen, wenn ein laufender Run still ist seit</translation>
    </message>
    <message>
        <source>Theme</source>
        <translation>Erscheinungsbild</translation>
    </message>
</context>
<context>
    <name>Runwatch::StepsModel</name>
    <message>
        <source>Step</source>
        <translation>Schritt</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>Name</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>Status</translation>
    </message>
    <message>
        <source>Progress</source>
        <translation>Fortschritt</translation>
    </message>
    <message>
        <source>Duration</source>
        <translation>Dauer</translation>
    </message>
    <message>
        <source>Message</source>
        <translation>Meldung</translation>
    </message>
</context>
<context>
    <name>main</name>
    <message>
        <source>Runwatch: watch long-running jobs live. Producers push events over WebSocket or HTTP;
the desktop window and remote dashboards see them in milliseconds.</source>
        <translation>Runwatch: lang laufende Jobs live beobachten. Producer senden Ereignisse per WebSocket oder HTTP;
das Desktop-Fenster und entfernte Dashboards sehen sie innerhalb von Millisekunden.</translation>
    </message>
    <message>
        <source>Serve without any window.</source>
        <translation>Nur den Server betreiben, ohne Fenster.</translation>
    </message>
    <message>
        <source>Start simulated producers so that there is something to watch.</source>
        <translation>Simulierte Producer starten, damit es etwas zu beobachten gibt.</translation>
    </message>
    <message>
        <source>Address to listen on (default 127.0.0.1). Any non-loopback address requires a token.</source>
        <translation>Adresse, auf der gelauscht wird (Standard 127.0.0.1). Jede Nicht-Loopback-Adresse erfordert ein Token.</translation>
    </message>
    <message>
        <source>Port to listen on; 0 picks a free one (default 7600).</source>
        <translation>Port, auf dem gelauscht wird; 0 wählt einen freien (Standard 7600).</translation>
    </message>
    <message>
        <source>Where history is kept (default: the user&apos;s application data folder).</source>
        <translation>Speicherort des Verlaufs (Standard: der Anwendungsdatenordner des Benutzers).</translation>
    </message>
    <message>
        <source>Producer/admin token (default: $RUNWATCH_TOKEN; generated on non-loopback binds).</source>
        <translation>Producer-/Admin-Token (Standard: $RUNWATCH_TOKEN; wird bei Bindung an Nicht-Loopback-Adressen erzeugt).</translation>
    </message>
    <message>
        <source>A browser origin allowed besides the server&apos;s own (repeatable; * allows any).</source>
        <translation>Zusätzlich zum eigenen Origin des Servers erlaubter Browser-Origin (mehrfach angebbar; * erlaubt jeden).</translation>
    </message>
    <message>
        <source>Largest WebSocket message or HTTP body (default 16777216).</source>
        <translation>Maximale Größe einer WebSocket-Nachricht oder eines HTTP-Bodys (Standard 16777216).</translation>
    </message>
    <message>
        <source>Unsent bytes a subscriber may fall behind before it is cut loose (default 8388608).</source>
        <translation>Ungesendete Bytes, um die ein Abonnent zurückliegen darf, bevor er getrennt wird (Standard 8388608).</translation>
    </message>
    <message>
        <source>Seconds of silence before the server pings a client (default 10).</source>
        <translation>Sekunden Stille, bevor der Server einen Client anpingt (Standard 10).</translation>
    </message>
    <message>
        <source>Seconds of silence after which a client is dropped (default 25).</source>
        <translation>Sekunden Stille, nach denen ein Client getrennt wird (Standard 25).</translation>
    </message>
    <message>
        <source>Save the window as PNG once it has settled, then exit.</source>
        <translation>Das Fenster als PNG speichern, sobald es fertig aufgebaut ist, und dann beenden.</translation>
    </message>
    <message>
        <source>User interface language (for example de).</source>
        <translation>Sprache der Benutzeroberfläche (zum Beispiel de).</translation>
    </message>
    <message>
        <source>Tail a JSON Lines file of events (one producer event per line) and publish what is appended; survives truncation and rotation (repeatable).</source>
        <translation>Eine JSON-Lines-Datei mit Ereignissen (ein Producer-Ereignis pro Zeile) verfolgen und Angehängtes veröffentlichen; übersteht Kürzen und Rotieren (mehrfach möglich).</translation>
    </message>
    <message>
        <source>Flush every commit to the disk: acknowledged events survive a power loss too, not only a crash (slower).</source>
        <translation>Jeden Commit auf die Platte schreiben: bestätigte Ereignisse überstehen auch einen Stromausfall, nicht nur einen Absturz (langsamer).</translation>
    </message>
    <message>
        <source>Delete finished runs that ended more than N days ago (default 0: keep everything).</source>
        <translation>Beendete Runs löschen, die vor mehr als N Tagen endeten (Standard 0: alles behalten).</translation>
    </message>
    <message>
        <source>Past this much stored history, delete the finished runs that ended first (default 0: no cap).</source>
        <translation>Ab so viel gespeichertem Verlauf die zuerst beendeten Runs löschen (Standard 0: keine Grenze).</translation>
    </message>
    <message>
        <source>Serve https and wss with this PEM certificate (chain); needs --tls-key.</source>
        <translation>https und wss mit diesem PEM-Zertifikat (Kette) anbieten; braucht --tls-key.</translation>
    </message>
    <message>
        <source>The PEM private key of --tls-cert.</source>
        <translation>Der private PEM-Schlüssel zu --tls-cert.</translation>
    </message>
    <message>
        <source>Open connections the server holds in total (default 16384).</source>
        <translation>Offene Verbindungen, die der Server insgesamt hält (Standard 16384).</translation>
    </message>
    <message>
        <source>Open connections from one address (default 4096).</source>
        <translation>Offene Verbindungen von einer Adresse (Standard 4096).</translation>
    </message>
    <message>
        <source>Events a second one producer may publish, in bursts of up to two seconds&apos; worth (default 100000; 0: no limit).</source>
        <translation>Ereignisse pro Sekunde, die ein Produzent senden darf, in Schüben von bis zu zwei Sekunden (Standard 100000; 0: keine Grenze).</translation>
    </message>
    <message>
        <source>Bytes a second one producer may publish (default 67108864; 0: no limit).</source>
        <translation>Bytes pro Sekunde, die ein Produzent senden darf (Standard 67108864; 0: keine Grenze).</translation>
    </message>
    <message>
        <source>Runs the server holds; events that would start another are refused (default 10000).</source>
        <translation>Läufe, die der Server hält; Ereignisse, die einen weiteren beginnen würden, werden abgelehnt (Standard 10000).</translation>
    </message>
    <message>
        <source>Metric names one run may have (default 10000).</source>
        <translation>Metriknamen, die ein Lauf haben darf (Standard 10000).</translation>
    </message>
    <message>
        <source>Longest JSON string in a published event (default 1048576).</source>
        <translation>Längste JSON-Zeichenkette in einem gesendeten Ereignis (Standard 1048576).</translation>
    </message>
    <message>
        <source>Subscriptions one connection may hold (default 256).</source>
        <translation>Abonnements, die eine Verbindung halten darf (Standard 256).</translation>
    </message>
    <message>
        <source>Events in one publish (default 10000).</source>
        <translation>Ereignisse in einer Veröffentlichung (Standard 10000).</translation>
    </message>
    <message>
        <source>Read the producer/admin token from the first line of FILE.</source>
        <translation>Producer-/Admin-Token aus der ersten Zeile von FILE lesen.</translation>
    </message>
    <message>
        <source>Read-only token for dashboards (default: $RUNWATCH_VIEWER_TOKEN).</source>
        <translation>Nur-Lese-Token für Dashboards (Standard: $RUNWATCH_VIEWER_TOKEN).</translation>
    </message>
    <message>
        <source>Read the read-only token from the first line of FILE.</source>
        <translation>Nur-Lese-Token aus der ersten Zeile von FILE lesen.</translation>
    </message>
    <message>
        <source>Step ids one run may have (default 10000).</source>
        <translation>Step-IDs, die ein Run haben darf (Standard 10000).</translation>
    </message>
</context>
</TS>
