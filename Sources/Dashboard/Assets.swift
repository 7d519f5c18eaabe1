/// The dashboard's stylesheet and script, served from the scheduler itself: nothing is loaded
/// from anywhere else.
public enum Assets {
  public static let style = """
    :root { --blue: #2563eb; --green: #16a34a; --bg: #f8fafc; --fg: #0f172a; --muted: #64748b;
      --line: #e2e8f0; --bad: #dc2626; --warn: #d97706; }
    * { box-sizing: border-box; }
    body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--fg); }
    header { display: flex; align-items: center; gap: 1rem; padding: .6rem 1.2rem; background: var(--fg); color: #fff; }
    header h1 { font-size: 1.1rem; margin: 0; flex: 1; }
    header form { margin: 0; }
    main, #activity { padding: 0 1.2rem; }
    h2 { font-size: 1.05rem; margin: 1.2rem 0 .5rem; }
    h3 { font-size: .95rem; margin: 0 0 .3rem; }
    .meta { color: var(--muted); margin: .1rem 0 .4rem; }
    .empty { color: var(--muted); }
    .cards { display: flex; flex-wrap: wrap; gap: .8rem; }
    .node, .set { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .7rem .9rem; min-width: 300px; }
    .capacity { margin: .4rem 0; }
    .capacity .label { font-size: .8rem; color: var(--muted); }
    .bar { position: relative; height: 10px; background: #e2e8f0; border-radius: 5px; overflow: hidden; }
    .bar span { position: absolute; left: 0; top: 0; bottom: 0; }
    .bar .reserved { background: #94a3b8; }
    .bar .used { background: var(--fg); height: 4px; top: 3px; }
    .badge { font-size: .72rem; padding: 1px 6px; border-radius: 8px; background: var(--line); color: var(--fg); vertical-align: middle; }
    .badge.blue { background: var(--blue); color: #fff; } .badge.green { background: var(--green); color: #fff; }
    .badge.live { background: var(--fg); color: #fff; } .badge.down, .badge.degraded { background: var(--bad); color: #fff; }
    .badge.starting { background: var(--warn); color: #fff; }
    .app { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .2rem 1rem 1rem; margin: 1rem 0; }
    .controls { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin: .5rem 0; }
    .sets { display: flex; flex-wrap: wrap; gap: .8rem; }
    .set { flex: 1; border-top: 4px solid var(--line); }
    .set.blue { border-top-color: var(--blue); } .set.green { border-top-color: var(--green); }
    .set.live { box-shadow: 0 0 0 2px var(--fg); }
    table { border-collapse: collapse; width: 100%; font-size: .82rem; }
    th, td { text-align: left; padding: 2px 6px; border-bottom: 1px solid var(--line); }
    td.health.healthy { color: var(--green); } td.health.unhealthy, td.health.exited { color: var(--bad); }
    tr.certificate.expired, tr.certificate.failing, tr.certificate.soon { color: var(--bad); }
    .graphs { display: flex; flex-wrap: wrap; gap: .6rem; margin-top: .8rem; }
    figure.graph { margin: 0; width: 370px; }
    figcaption { font-size: .8rem; color: var(--muted); }
    svg.chart { width: 100%; height: auto; background: #fff; }
    svg .grid { stroke: var(--line); } svg .axis, svg .nodata { font-size: 9px; fill: var(--muted); }
    svg .line { fill: none; stroke-width: 1.6; } svg circle.line { stroke-width: 0; }
    .blue { stroke: var(--blue); } circle.blue { fill: var(--blue); }
    .green { stroke: var(--green); } circle.green { fill: var(--green); }
    .ok { stroke: var(--green); } .redirect { stroke: #0891b2; } .client { stroke: var(--warn); }
    .server { stroke: var(--bad); } .proxy { stroke: #7c3aed; }
    .legend { display: flex; gap: .6rem; font-size: .75rem; }
    .key::before { content: ""; display: inline-block; width: 10px; height: 3px; margin-right: 3px; vertical-align: middle; background: currentColor; }
    .key.blue { color: var(--blue); } .key.green { color: var(--green); } .key.ok { color: var(--green); }
    .key.redirect { color: #0891b2; } .key.client { color: var(--warn); } .key.server { color: var(--bad); } .key.proxy { color: #7c3aed; }
    button { font: inherit; padding: .3rem .7rem; border-radius: 4px; border: 1px solid var(--fg); background: #fff; cursor: pointer; }
    button.primary { background: var(--fg); color: #fff; } button.quiet { border-color: var(--line); }
    button:disabled { opacity: .5; cursor: wait; }
    #log { margin: 0; padding-left: 1.2rem; font-size: .85rem; }
    #log li[data-state="failed"] { color: var(--bad); } #log li[data-state="done"] { color: var(--green); }
    #events td:first-child { white-space: nowrap; }
    dialog { border: 1px solid var(--line); border-radius: 6px; }
    body.login { display: grid; place-items: center; min-height: 100vh; }
    #login { background: #fff; padding: 1.5rem; border: 1px solid var(--line); border-radius: 6px; max-width: 380px; }
    #login label { display: block; margin: .8rem 0; } #login input { width: 100%; padding: .3rem; }
    .error { color: var(--bad); }
    """

  /// Runs the buttons against the scheduler's own API with the session cookie (plus a header
  /// a form on another site cannot send), shows each step's progress in the activity list,
  /// asks before a switch, rollback or retire, and refreshes the live part every 3 seconds.
  public static let script = #"""
    "use strict";
    const headers = { "Content-Type": "application/json", "X-Turnout-Dashboard": "1", "X-Turnout-Actor": "dashboard" };
    async function api(method, path, body) {
      const response = await fetch(path, { method, headers, credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await response.text();
      let data;
      try { data = JSON.parse(text); } catch { data = { error: text }; }
      if (response.status === 401) { location.href = "/dashboard"; }
      if (!response.ok) { throw new Error(data.error || ("HTTP " + response.status)); }
      return data;
    }
    function entry(text) {
      const item = document.createElement("li");
      item.dataset.state = "running";
      item.textContent = text + ": running";
      document.getElementById("log").prepend(item);
      const started = performance.now();
      const seconds = () => ((performance.now() - started) / 1000).toFixed(1) + " s";
      const timer = setInterval(() => { if (item.dataset.state === "running") item.textContent = text + ": running, " + seconds(); }, 500);
      return {
        progress(note) { item.textContent = text + ": " + note + ", " + seconds(); },
        done(note) { clearInterval(timer); item.dataset.state = "done"; item.textContent = text + ": " + note + " (" + seconds() + ")"; refresh(); },
        failed(error) { clearInterval(timer); item.dataset.state = "failed"; item.textContent = text + ": failed: " + error.message; refresh(); },
      };
    }
    function confirmAction(text) {
      const dialog = document.getElementById("confirm");
      document.getElementById("confirm-text").textContent = text;
      return new Promise((resolve) => {
        dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
        dialog.showModal();
      });
    }
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    const path = (app) => "/v1/apps/" + encodeURIComponent(app);
    const actions = {
      async deploy(app) {
        const image = document.getElementById("image-" + app).value.trim();
        const log = entry("build new environment of " + app + (image ? " from " + image : ""));
        try {
          const result = await api("POST", path(app) + "/deploy", image ? { image } : {});
          const name = result.color + " set " + result.deployment;
          log.progress(name + ": " + result.placed.length + " slots placed, starting");
          for (let round = 0; ; round++) {
            const status = await api("GET", path(app));
            const set = status.sets.find((s) => s.color === result.color && s.deployment === result.deployment);
            if (!set) throw new Error(name + " is gone (stopped or replaced)");
            const healthy = set.slots.filter((slot) => slot.health === "healthy").length;
            if (set.state === "ready") { log.done(name + " ready: " + healthy + "/" + set.slots.length + " slots healthy"); break; }
            if (set.state === "degraded" && round > 20) {
              const bad = set.slots.filter((slot) => slot.health !== "healthy").map((slot) => "slot " + slot.index + " " + slot.health + (slot.message ? " (" + slot.message + ")" : ""));
              throw new Error(name + " is degraded: " + bad.join("; "));
            }
            log.progress(name + ": " + healthy + "/" + set.slots.length + " slots healthy");
            await sleep(500);
          }
        } catch (error) { log.failed(error); }
      },
      async verify(app) {
        const log = entry("pre-production check of " + app);
        try {
          let run = await api("POST", path(app) + "/verify");
          while (run.state === "running") {
            const finished = run.steps.filter((step) => step.state !== "running").length;
            log.progress(finished + " of " + run.steps.length + " steps finished");
            await sleep(500);
            run = await api("GET", path(app) + "/verifications/" + encodeURIComponent(run.id));
          }
          if (run.state === "passed") { log.done("passed, " + run.steps.length + " steps"); }
          else { log.failed(new Error(run.summary || "a step failed")); }
        } catch (error) { log.failed(error); }
      },
      async switch(app) { await flip(app, "switch", "Switch production of " + app + " to the other set?"); },
      async rollback(app) { await flip(app, "rollback", "Roll " + app + " back to the set that was live before?"); },
      async retire(app) {
        if (!(await confirmAction("Retire the set of " + app + " that is not live? Its containers stop after draining."))) return;
        const log = entry("retire the old set of " + app);
        try {
          const result = await api("POST", path(app) + "/retire", {});
          log.done(result.color + " set retired, drained in " + Math.round(result.drain_ms) + " ms");
        } catch (error) { log.failed(error); }
      },
    };
    async function flip(app, verb, question) {
      if (!(await confirmAction(question))) return;
      const log = entry(verb + " " + app);
      try {
        const result = await api("POST", path(app) + "/" + verb, {});
        log.done(result.from + " to " + result.to + " at epoch " + result.epoch + " on " + result.routers.length + " router(s)");
      } catch (error) { log.failed(error); }
    }
    // Actions under way, as "action/app": their buttons stay disabled across refreshes.
    const running = new Set();
    const key = (button) => button.dataset.action + "/" + button.dataset.app;
    function markButtons() {
      document.querySelectorAll("#state button[data-action]").forEach((b) => { b.disabled = running.has(key(b)); });
    }
    document.addEventListener("click", async (event) => {
      const button = event.target.closest("button[data-action]");
      if (!button || button.disabled) return;
      const name = key(button);
      running.add(name);
      markButtons();
      try { await actions[button.dataset.action](button.dataset.app); } finally { running.delete(name); markButtons(); }
    });
    let refreshing = false;
    let lastHTML = "";
    // A press on a button must end on the same button: no refresh between mousedown and click.
    let pressing = false;
    document.addEventListener("pointerdown", () => { pressing = true; }, true);
    document.addEventListener("pointerup", () => { setTimeout(() => { pressing = false; }, 0); }, true);
    async function refresh() {
      const state = document.getElementById("state");
      // Not while the operator types in a field of the live part, nor while a dialog asks.
      const typing = state.contains(document.activeElement) && document.activeElement.tagName === "INPUT";
      if (refreshing || typing || pressing || document.getElementById("confirm").open) return;
      refreshing = true;
      try {
        const response = await fetch("/dashboard/state", { credentials: "same-origin", headers });
        if (response.status === 401) { location.href = "/dashboard"; return; }
        if (!response.ok) return;
        const html = await response.text();
        if (html === lastHTML || pressing) return;
        lastHTML = html;
        const kept = {};
        state.querySelectorAll("input[id]").forEach((input) => { kept[input.id] = input.value; });
        state.innerHTML = html;
        for (const [id, value] of Object.entries(kept)) { const input = document.getElementById(id); if (input) input.value = value; }
        markButtons();
        document.getElementById("refreshed").textContent = "updated " + new Date().toLocaleTimeString();
      } catch { /* the next round tries again */ } finally { refreshing = false; }
    }
    setInterval(refresh, 3000);
    """#
}
