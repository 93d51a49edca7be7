// Pacing: throttled rendering and a rate meter of arrivals.

// Events per second over the last ten seconds of arrivals.
export class RateMeter {
    constructor(windowMs = 10000) { this.w = windowMs; this.t = []; this.since = performance.now(); }
    note(n = 1) { const now = performance.now(); for (let i = 0; i < n; i++) this.t.push(now); if (this.t.length > 100000) this.t.splice(0, 50000); }
    rate() {
        const now = performance.now();
        let i = 0;
        while (i < this.t.length && this.t[i] < now - this.w) i++;
        if (i) this.t.splice(0, i);
        const span = Math.min(this.w, now - this.since) / 1000;
        return span >= 1 ? this.t.length / span : null;
    }
}

// Throttled rendering: at most one pass per animation frame and per `minMs`.
export function throttle(fn, minMs) {
    let queued = false, last = 0;
    return () => {
        if (queued) return;
        queued = true;
        const run = () => {
            const wait = last + minMs - performance.now();
            if (wait > 0) { setTimeout(() => requestAnimationFrame(run), wait); return; }
            queued = false;
            last = performance.now();
            fn();
        };
        requestAnimationFrame(run);
        // Background tabs get no animation frames; keep the model current anyway.
        if (document.hidden) setTimeout(() => { if (queued) { queued = false; last = performance.now(); fn(); } }, minMs);
    };
}
