/*
 * The workbench's live queues and inbox: the client side of docs/events.md.
 *
 * 1. Connect to the live socket. On "welcome", remember the connection id and
 *    subscribe to the page's groups (rendered by the view from the user's
 *    standing groups).
 * 2. Once every subscription is answered, on first start: take the cursor
 *    from that welcome's last_event_id, then load each queue over the case
 *    list API. The list is read after that id was issued, so it is at least
 *    as new as the cursor, and the resync that follows replays everything
 *    committed since; the case version makes replaying harmless.
 * 3. Resync: the first page over the socket ("resync" since the cursor, for
 *    every group the connection joined: a page back from a reconnection storm
 *    that missed nothing makes no HTTP request), then events since the
 *    cursor for the page's groups over HTTP while has_more.
 *    The cursor moves only here (ids have gaps; a gap is not a loss).
 * 4. Pushed case events are applied at once, skipping ids applied already.
 * 5. On close (not 4401 or 4403) reconnect with backoff (1 s doubling to 30 s,
 *    with full jitter: a random wait up to that ceiling, so that after a
 *    deploy the clients come back spread over the whole window rather than
 *    at its end), then resync from the cursor kept. 4401: signed out, 4403:
 *    account deactivated; no retry. A group the server leaves because the
 *    user's scope no longer allows it ("unsubscribed", out_of_scope) is no
 *    longer resynced, and the page says it is out of date.
 * 6. Resync every 60 s while connected.
 *
 * A case is shown in a queue when its status is one of the queue's and it is
 * the queue's (department, command centre area and level, grid, or one of the
 * grids of a "grids" queue); an event that says otherwise takes it out. A
 * "mine" queue holds the user's own reports, as the list showed them or as
 * the user's "reported" event names them, whatever their status. The same
 * client keeps the field app's lists of tasks (/field/cases/), whose rows
 * link to each case's page (urls.case_page). Event messages carry no category or
 * address: a case new to the page is fetched once over REST.
 *
 * window.governanceLive exposes the connection state (socket, cursor, applied
 * ids) for inspection.
 */
(function () {
  "use strict";

  const configNode = document.getElementById("workbench-config");
  if (!configNode) {
    return;
  }
  const config = JSON.parse(configNode.textContent);
  const text = config.text;
  const queues = config.queues;
  const groups = config.groups;

  const RESYNC_EVERY_MS = 60000;
  const BACKOFF_FIRST_MS = 1000;
  const BACKOFF_MAX_MS = 30000;
  const CLOSE_UNAUTHENTICATED = 4401;
  const CLOSE_DEACTIVATED = 4403;
  const EVENT_PAGE = 200;
  const LIST_PAGE = 200;
  const english = (config.language || "").toLowerCase().startsWith("en");

  const live = {
    socket: null,
    connectionId: "",
    cursor: null, // the event id the page has resynced to; null before the first start
    applied: new Set(), // ids above the cursor applied already
    state: "connecting",
    closeCode: null, // of the last socket that closed
    attempts: 0,
  };
  window.governanceLive = live;

  let welcomeId = null;
  let listed = false;
  let pending = new Set(); // groups asked for on this connection, not answered yet
  let followed = []; // groups this connection joined: the ones resynced
  let reconnectTimer = null;
  let resyncTimer = null;
  let leaving = false;
  let resyncRun = null;
  let resyncAgain = false;
  let socketResync = null; // the resync asked over the socket: { resolve, reject }

  // --- Connection indicator --------------------------------------------------

  const statusNode = document.getElementById("live-status");

  function setState(state) {
    if (live.state === "signed-out") {
      return;
    }
    live.state = state;
    if (!statusNode) {
      return;
    }
    statusNode.dataset.state = state;
    const label = statusNode.querySelector(".live-label");
    const key = state.replace("-", "_");
    if (label && text[key]) {
      label.textContent = text[key];
    }
  }

  function markStale() {
    if (document.getElementById("live-stale")) {
      return;
    }
    const notice = document.createElement("p");
    notice.id = "live-stale";
    notice.className = "notice";
    notice.textContent = text.stale;
    const bar = document.querySelector(".workbench-bar");
    if (bar) {
      bar.after(notice);
    }
  }

  function signOut() {
    setState("signed-out");
    clearTimeout(reconnectTimer);
    clearInterval(resyncTimer);
    const socket = live.socket;
    live.socket = null;
    live.connectionId = "";
    if (socket) {
      socket.close(1000);
    }
  }

  // --- REST ------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code) {
      super(`HTTP ${status} ${code}`);
      this.status = status;
      this.code = code;
    }
  }

  async function api(url, method, payload) {
    const headers = { Accept: "application/json" };
    if (live.connectionId) {
      headers["X-Live-Connection"] = live.connectionId;
    }
    if (method && method !== "GET") {
      headers["X-CSRFToken"] = config.csrf_token;
    }
    const init = { method: method || "GET", headers: headers, credentials: "same-origin" };
    if (payload !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(payload);
    }
    const response = await fetch(url, init);
    let body = null;
    if (response.status !== 204) {
      body = await response.json().catch(() => null);
    }
    if (!response.ok) {
      const code = (body && body.error && body.error.code) || "";
      if (
        response.status === 401 ||
        (response.status === 403 && (code === "not_authenticated" || code === "authentication_failed"))
      ) {
        signOut();
      }
      throw new ApiError(response.status, code);
    }
    return body;
  }

  function query(params) {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      for (const item of [].concat(value)) {
        search.append(name, item);
      }
    }
    return search.toString();
  }

  // --- Cases and queues ------------------------------------------------------
  //
  // Per case: ``version`` is the newest case version seen. Which queues hold
  // it follows ``routing`` (from a case event) when that is of this version,
  // otherwise the queues whose list showed it at this version (the list API
  // gives no area path). ``display`` is what a row shows.

  const cases = new Map();
  const rows = new Map(queues.map((queue) => [queue.key, new Map()]));
  const loaded = new Set();
  const detailsInFlight = new Set();
  const template = document.getElementById("case-row");

  function caseFor(id) {
    let record = cases.get(id);
    if (!record) {
      record = {
        id: id,
        version: null,
        routing: null,
        routingVersion: null,
        listedIn: new Set(),
        display: null,
        displayVersion: -1,
        goneVersion: null,
        mine: false,
      };
      cases.set(id, record);
    }
    return record;
  }

  function belongs(queue, routing) {
    if (!queue.statuses.includes(routing.status)) {
      return false;
    }
    if (queue.kind === "department") {
      return routing.department_id === queue.id;
    }
    if (queue.kind === "dispatch") {
      return routing.area_path.startsWith(queue.path) && routing.command_level >= queue.level;
    }
    if (queue.kind === "grid") {
      return routing.grid_id === queue.id;
    }
    if (queue.kind === "grids") {
      return queue.ids.includes(routing.grid_id);
    }
    return false;
  }

  function isMember(record, queue) {
    if (record.version === null || record.goneVersion === record.version) {
      return false;
    }
    if (queue.kind === "mine") {
      return record.mine; // the user's own reports, whatever becomes of them
    }
    if (record.routingVersion === record.version) {
      return belongs(queue, record.routing);
    }
    return record.listedIn.has(queue.key);
  }

  function categoryName(category) {
    if (!category) {
      return "";
    }
    return (english && category.name_en) || category.name || category.code || "";
  }

  function setDisplayFromCase(record, item) {
    if (item.version < record.displayVersion) {
      return;
    }
    record.display = {
      number: item.number,
      category: categoryName(item.category),
      status: item.status,
      statusLabel: item.status_display || config.statuses[item.status] || item.status,
      light: item.light || "",
      due_at: item.due_at,
      address: item.address || "",
      full: true,
    };
    record.displayVersion = item.version;
  }

  function mergeListed(queue, item) {
    const record = caseFor(item.id);
    if (record.version !== null && item.version < record.version) {
      return;
    }
    if (record.version === null || item.version > record.version) {
      record.version = item.version;
      record.listedIn = new Set();
    }
    record.listedIn.add(queue.key);
    record.mine = record.mine || queue.kind === "mine";
    setDisplayFromCase(record, item);
  }

  function applyCase(event) {
    const record = caseFor(event.case_id);
    const version = event.case_version;
    if (record.version !== null) {
      if (version < record.version) {
        return;
      }
      if (version === record.version && record.routingVersion === version) {
        return;
      }
      if (version > record.version) {
        record.listedIn = new Set();
      }
    }
    record.version = version;
    record.routingVersion = version;
    if (event.action === "reported" && event.actor_id === config.user_id) {
      record.mine = true;
    }
    record.routing = {
      status: event.status,
      department_id: event.department_id,
      command_level: event.command_level,
      grid_id: event.grid_id,
      area_path: event.area_path,
    };
    if (version >= record.displayVersion) {
      record.display = Object.assign({ category: "", address: "", full: false }, record.display, {
        number: event.case_number,
        status: event.status,
        statusLabel: config.statuses[event.status] || event.status,
        light: event.light || "",
        due_at: event.due_at,
      });
      record.displayVersion = version;
    }
    render(record);
  }

  function applyEvent(event, pushed) {
    if (!event || event.type !== "case.event") {
      return;
    }
    if (live.applied.has(event.id) || (live.cursor !== null && event.id <= live.cursor && pushed)) {
      return;
    }
    live.applied.add(event.id);
    applyCase(event);
    // For a page's own script (the field app's case page follows its case).
    document.dispatchEvent(new CustomEvent("governance:case-event", { detail: event }));
  }

  async function fetchDetail(record) {
    if (detailsInFlight.has(record.id)) {
      return;
    }
    detailsInFlight.add(record.id);
    try {
      const item = await api(`${config.urls.cases}${record.id}/`);
      setDisplayFromCase(record, item);
    } catch (error) {
      if (error.status === 404) {
        // Not visible to this user any more: an event on what changed follows.
        record.goneVersion = record.version;
      }
    } finally {
      detailsInFlight.delete(record.id);
    }
    render(record);
  }

  // --- Rows ------------------------------------------------------------------

  const dueFormat = (() => {
    const options = {
      timeZone: config.time_zone,
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      hour12: false,
    };
    try {
      return new Intl.DateTimeFormat(config.language || undefined, options);
    } catch (error) {
      return new Intl.DateTimeFormat(undefined, options);
    }
  })();

  function sortKey(display) {
    // Soonest due first; cases without a running deadline last.
    const due = display.due_at ? Date.parse(display.due_at) : Number.MAX_SAFE_INTEGER;
    return [due, display.number || ""];
  }

  function before(a, b) {
    return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
  }

  function fillRow(row, record) {
    const display = record.display;
    row.dataset.caseId = String(record.id);
    row.dataset.status = display.status;
    row.dataset.light = display.light;
    row.dataset.version = String(record.version);
    row.querySelector('[data-field="number"]').textContent = display.number || "";
    row.querySelector('[data-field="category"]').textContent = display.full ? display.category : "…";
    row.querySelector('[data-field="status"]').textContent = display.statusLabel;
    const light = row.querySelector(".light");
    light.className = display.light ? `light light-${display.light}` : "light";
    light.textContent = config.lights[display.light] || "–";
    const due = row.querySelector("time");
    due.dateTime = display.due_at || "";
    due.textContent = display.due_at ? dueFormat.format(new Date(display.due_at)) : "–";
    row.querySelector('[data-field="address"]').textContent = display.full ? display.address : "";
    const link = row.querySelector("[data-case-link]");
    if (link && config.urls.case_page) {
      link.href = config.urls.case_page.replace("{id}", String(record.id));
    }
  }

  function place(body, row, key) {
    row._sortKey = key;
    for (const other of body.children) {
      if (other !== row && before(key, other._sortKey)) {
        if (row.nextSibling !== other) {
          body.insertBefore(row, other);
        }
        return;
      }
    }
    if (body.lastElementChild !== row) {
      body.appendChild(row);
    }
  }

  function render(record) {
    let wanted = false;
    for (const queue of queues) {
      const shown = rows.get(queue.key);
      const body = document.querySelector(`[data-queue-rows="${queue.key}"]`);
      let row = shown.get(record.id);
      if (isMember(record, queue) && record.display) {
        wanted = true;
        if (!row) {
          row = template.content.firstElementChild.cloneNode(true);
          shown.set(record.id, row);
        }
        fillRow(row, record);
        place(body, row, sortKey(record.display));
      } else if (row) {
        row.remove();
        shown.delete(record.id);
      }
      updateQueue(queue);
    }
    if (wanted && !record.display.full) {
      fetchDetail(record);
    }
  }

  function updateQueue(queue) {
    const count = rows.get(queue.key).size;
    const counter = document.querySelector(`[data-queue-count="${queue.key}"]`);
    const message = document.querySelector(`[data-queue-message="${queue.key}"]`);
    if (counter) {
      counter.textContent = loaded.has(queue.key) ? String(count) : "–";
    }
    if (message) {
      if (!loaded.has(queue.key)) {
        message.hidden = false;
      } else if (count === 0) {
        message.textContent = text.empty;
        message.hidden = false;
      } else {
        message.hidden = true;
      }
    }
  }

  async function loadQueue(queue) {
    const found = [];
    let url = `${config.urls.cases}?${query(Object.assign({ page_size: LIST_PAGE }, queue.query))}`;
    while (url) {
      const page = await api(url);
      found.push(...page.results);
      url = page.next;
    }
    for (const item of found) {
      // The list filters by area, not by command level: an escalated case
      // is the centre above's.
      if (queue.kind !== "dispatch" || item.command_level >= queue.level) {
        mergeListed(queue, item);
      }
    }
    loaded.add(queue.key);
    for (const item of found) {
      render(caseFor(item.id));
    }
    updateQueue(queue);
  }

  async function loadQueues() {
    try {
      await Promise.all(queues.filter((queue) => !loaded.has(queue.key)).map(loadQueue));
    } catch (error) {
      for (const queue of queues) {
        const message = document.querySelector(`[data-queue-message="${queue.key}"]`);
        if (message && !loaded.has(queue.key)) {
          message.textContent = text.load_failed;
        }
      }
      throw error;
    }
  }

  // --- Resync ----------------------------------------------------------------

  function resync() {
    if (live.cursor === null || followed.length === 0) {
      return Promise.resolve();
    }
    if (resyncRun) {
      resyncAgain = true;
      return resyncRun;
    }
    resyncRun = (async () => {
      do {
        resyncAgain = false;
        let more = true;
        while (more) {
          const page = await api(
            `${config.urls.events}?${query({ since: live.cursor, limit: EVENT_PAGE, group: followed })}`,
          );
          applyPage(page);
          more = page.has_more;
        }
      } while (resyncAgain);
    })().finally(() => {
      resyncRun = null;
    });
    return resyncRun;
  }

  function applyPage(page) {
    for (const event of page.events) {
      applyEvent(event, false);
    }
    live.cursor = page.last_id;
    for (const id of live.applied) {
      if (id <= live.cursor) {
        live.applied.delete(id);
      }
    }
  }

  // The first page of a resync over the socket, once every subscription is
  // answered; HTTP only for what is beyond it.
  async function resyncOverSocket(socket) {
    const page = await new Promise((resolve, reject) => {
      socketResync = { resolve: resolve, reject: reject };
      send(socket, { type: "resync", since: live.cursor });
    });
    applyPage(page);
    if (page.has_more) {
      await resync();
    }
  }

  function periodic() {
    resync().catch(() => {}); // retried on the next round or reconnect
    refreshUnread();
  }

  // --- Socket ----------------------------------------------------------------

  function connect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (leaving || live.state === "signed-out" || live.socket) {
      return;
    }
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    let socket;
    try {
      socket = new WebSocket(`${scheme}//${location.host}${config.urls.socket}`);
    } catch (error) {
      scheduleReconnect();
      return;
    }
    live.socket = socket;
    socket.addEventListener("message", (message) => onMessage(socket, message));
    socket.addEventListener("close", (event) => onClose(socket, event));
  }

  function scheduleReconnect() {
    setState("reconnecting");
    clearTimeout(reconnectTimer);
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.min(live.attempts, 15));
    live.attempts += 1;
    reconnectTimer = setTimeout(connect, Math.random() * ceiling);
  }

  function onClose(socket, event) {
    if (live.socket !== socket) {
      return;
    }
    live.socket = null;
    live.connectionId = "";
    live.closeCode = event.code;
    pending = new Set();
    if (socketResync) {
      socketResync.reject(new Error("closed"));
      socketResync = null;
    }
    clearInterval(resyncTimer);
    resyncTimer = null;
    if (event.code === CLOSE_UNAUTHENTICATED || event.code === CLOSE_DEACTIVATED) {
      signOut();
      return;
    }
    if (!leaving && live.state !== "signed-out") {
      scheduleReconnect();
    }
  }

  function send(socket, message) {
    if (socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(message));
    }
  }

  function onMessage(socket, message) {
    if (live.socket !== socket) {
      return;
    }
    let data;
    try {
      data = JSON.parse(message.data);
    } catch (error) {
      return;
    }
    switch (data.type) {
      case "welcome":
        live.connectionId = data.connection_id;
        welcomeId = data.last_event_id;
        pending = new Set(groups);
        followed = [];
        for (const group of groups) {
          send(socket, { type: "subscribe", group: group });
        }
        if (pending.size === 0) {
          start(socket);
        }
        break;
      case "subscribed":
      case "error":
        if (data.type === "subscribed" && pending.has(data.group)) {
          followed.push(data.group);
        } else if (data.code === "forbidden") {
          markStale(); // a role or grid assignment changed since the page was made
        }
        if (data.group && pending.delete(data.group) && pending.size === 0) {
          start(socket);
        } else if (data.type === "error" && !data.group && socketResync) {
          socketResync.reject(new Error(data.code)); // start() starts over
          socketResync = null;
        }
        break;
      case "unsubscribed":
        if (data.reason === "out_of_scope") {
          followed = followed.filter((group) => group !== data.group);
          markStale(); // a role or grid assignment changed since the page was made
        }
        break;
      case "case.event":
        applyEvent(data, true);
        break;
      case "resync":
        if (socketResync) {
          socketResync.resolve(data);
          socketResync = null;
        }
        break;
      case "notification":
        onNotification(data);
        break;
      default:
        break;
    }
  }

  async function start(socket) {
    try {
      if (live.cursor === null) {
        live.cursor = welcomeId;
      }
      if (!listed) {
        await loadQueues();
        listed = true;
      }
      await resyncOverSocket(socket);
      await refreshUnread(); // pushed counts may have been missed too
      if (live.socket !== socket) {
        return;
      }
      live.attempts = 0;
      setState("live");
      clearInterval(resyncTimer);
      resyncTimer = setInterval(periodic, RESYNC_EVERY_MS);
    } catch (error) {
      if (error.status === 403 && error.code === "permission_denied") {
        markStale();
      }
      // Start over through the reconnect, with its backoff.
      if (live.socket === socket) {
        socket.close(1000);
      }
    }
  }

  // --- Inbox -----------------------------------------------------------------

  const inboxNode = document.getElementById("inbox");
  const bell = document.getElementById("bell");
  const bellCount = document.getElementById("bell-count");
  const panel = document.getElementById("inbox-panel");
  const inboxList = document.getElementById("inbox-list");
  const inboxMessage = document.getElementById("inbox-message");
  const inbox = { enabled: false, unread: 0, loaded: false, items: new Map() };
  live.inbox = inbox;

  function setUnread(count) {
    if (typeof count !== "number" || count < 0) {
      return;
    }
    inbox.unread = count;
    bellCount.textContent = count > 99 ? "99+" : String(count);
    bellCount.dataset.count = String(count);
    bellCount.hidden = count === 0;
    bell.setAttribute("aria-label", text.bell.replace("%(count)s", String(count)));
  }

  function enableInbox(enabled) {
    inbox.enabled = enabled;
    if (!inboxNode) {
      return; // a page without the inbox
    }
    inboxNode.hidden = !enabled;
  }

  async function refreshUnread() {
    if (live.state === "signed-out" || !inboxNode) {
      return;
    }
    try {
      const body = await api(`${config.urls.notifications}unread-count/`);
      enableInbox(true);
      setUnread(body.unread_count !== undefined ? body.unread_count : body.count);
    } catch (error) {
      if (error.status === 404) {
        enableInbox(false); // no inbox on this server
      }
    }
  }

  function isRead(item) {
    return Boolean(item.is_read || item.read_at);
  }

  function renderNotification(item) {
    let entry = inboxList.querySelector(`[data-notification-id="${item.id}"]`);
    if (!entry) {
      entry = document.createElement("li");
      entry.dataset.notificationId = String(item.id);
      if (item.case) {
        entry.dataset.caseId = String(item.case.id);
      }
      entry.tabIndex = 0;
      entry.addEventListener("click", () => markRead(item.id));
      entry.addEventListener("keydown", (event) => {
        if (event.key === "Enter") {
          markRead(item.id);
        }
      });
    }
    const parts = [
      ["inbox-title", item.title || item.kind_display || ""],
      ["inbox-text", item.text || ""],
    ];
    entry.replaceChildren();
    for (const [name, value] of parts) {
      if (value) {
        const line = document.createElement("span");
        line.className = name;
        line.textContent = value;
        entry.appendChild(line);
      }
    }
    if (item.created_at) {
      const when = document.createElement("time");
      when.dateTime = item.created_at;
      when.textContent = dueFormat.format(new Date(item.created_at));
      entry.appendChild(when);
    }
    entry.classList.toggle("unread", !isRead(item));
    return entry;
  }

  function showInboxMessage(message) {
    inboxMessage.textContent = message || "";
    inboxMessage.hidden = !message;
  }

  function addNotification(item, first) {
    inbox.items.set(item.id, item);
    const entry = renderNotification(item);
    if (first) {
      inboxList.prepend(entry);
    } else {
      inboxList.appendChild(entry);
    }
    showInboxMessage("");
  }

  async function loadInbox() {
    try {
      const body = await api(config.urls.notifications);
      const items = Array.isArray(body) ? body : (body && body.results) || [];
      inboxList.replaceChildren();
      inbox.items.clear();
      for (const item of items) {
        addNotification(item, false);
      }
      inbox.loaded = true;
      showInboxMessage(items.length ? "" : text.no_notifications);
    } catch (error) {
      showInboxMessage(text.notifications_failed);
    }
  }

  async function markRead(id) {
    const item = inbox.items.get(id);
    if (!item || isRead(item)) {
      return;
    }
    try {
      Object.assign(item, await api(`${config.urls.notifications}${id}/read/`, "POST"));
      renderNotification(item);
      setUnread(Math.max(0, inbox.unread - 1));
      refreshUnread();
    } catch (error) {
      showInboxMessage(text.notifications_failed);
    }
  }

  async function readAll() {
    // Up to the newest shown: one that arrives meanwhile stays unread.
    const ids = [...inbox.items.keys()];
    const upTo = ids.length ? Math.max(...ids) : null;
    try {
      const body = await api(`${config.urls.notifications}read-all/`, "POST", { up_to: upTo });
      for (const item of inbox.items.values()) {
        if (upTo === null || item.id <= upTo) {
          item.is_read = true;
          renderNotification(item);
        }
      }
      if (body && typeof body.unread_count === "number") {
        setUnread(body.unread_count);
      }
    } catch (error) {
      showInboxMessage(text.notifications_failed);
    }
  }

  function onNotification(message) {
    if (!inboxNode) {
      return; // a page without the inbox
    }
    enableInbox(true);
    setUnread(message.unread_count);
    const item = message.notification;
    if (item && item.id !== undefined && inbox.loaded && !inbox.items.has(item.id)) {
      addNotification(item, true);
    }
  }

  if (bell) {
    bell.addEventListener("click", () => {
      const open = panel.hidden;
      panel.hidden = !open;
      bell.setAttribute("aria-expanded", String(open));
      if (open) {
        loadInbox();
      }
    });
    document.getElementById("read-all").addEventListener("click", readAll);
  }

  // --- Start -----------------------------------------------------------------

  window.addEventListener("online", () => {
    if (!live.socket && live.state !== "signed-out") {
      live.attempts = 0;
      connect();
    }
  });
  window.addEventListener("pagehide", () => {
    leaving = true;
    if (live.socket) {
      live.socket.close(1000);
    }
  });
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) {
      leaving = false;
      connect();
    }
  });

  for (const queue of queues) {
    updateQueue(queue);
  }
  connect();
})();
