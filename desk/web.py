"""The desk's web application (Flask, server-rendered Jinja2 pages, no JavaScript needed)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

from flask import (
    Flask,
    Response,
    abort,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import and_, case, false, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from . import faq, handling, kb, record
from .auth import LoginThrottle, check_password, new_csrf_token, same_token
from .config import SEVERITIES, DeskConfig
from .db import ping, secret_key, sessions
from .export import to_csv, to_xlsx
from .intake import BadNotification, parse_notification, store_alerts
from .models import Incident, Remedy, User

log = logging.getLogger("aftercare.desk")
PUBLIC = {"login", "static"}
MACHINE = {"healthy", "ready", "intake"}
LIST_LIMIT = 200


def create_app(config: DeskConfig, engine: Engine, *, tls: bool = False) -> Flask:
    """The application over ``engine`` (already migrated); ``tls`` marks cookies Secure."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secret_key(engine),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=tls,
        SESSION_COOKIE_NAME="aftercare_desk",
        MAX_CONTENT_LENGTH=8 * 2**20,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
    )
    make_session = sessions(engine)
    throttle = LoginThrottle()
    app.extensions["desk"] = {"config": config, "engine": engine, "sessions": make_session}

    @app.before_request
    def load_user():
        if request.endpoint in MACHINE:  # token or no auth; no session, no cookie
            return None
        g.db = make_session()
        g.user = None
        if request.endpoint == "api_service_record" and report_token_matches():
            g.user = User(username="report", role="engineer")  # read-only, not stored
            return None
        uid = session.get("uid")
        if uid is not None:
            g.user = g.db.get(User, uid)
        if "csrf" not in session:
            session["csrf"] = new_csrf_token()
        if request.endpoint in PUBLIC:
            return None
        if g.user is None:
            if request.path.startswith("/api/") or request.method != "GET":
                return jsonify(error="authentication required"), 401
            return redirect(url_for("login", next=request.path))
        if request.method == "POST" and not same_token(
            request.form.get("csrf"), session.get("csrf")
        ):
            abort(403)
        return None

    @app.teardown_request
    def close_db(exc):
        db = g.pop("db", None)
        if db is not None:
            db.close()

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault(
            "Content-Security-Policy", "default-src 'self'; script-src 'none'; style-src 'self'"
        )
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.context_processor
    def globals_():
        return {
            "user": g.get("user"),
            "csrf": session.get("csrf", ""),
            "fmt_seconds": fmt_seconds,
            "severities": SEVERITIES,
            "root_causes": handling.ROOT_CAUSES,
            "request_kinds": handling.REQUEST_KINDS,
        }

    def report_token_matches() -> bool:
        token = config.report_token()
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        return bool(token) and same_token(given, token)

    def visible():
        """The incidents the signed-in user may see (a customer user: only its own)."""
        if g.user.role == "customer":
            return Incident.customer == g.user.customer
        return Incident.id.isnot(None)

    def incident_or_404(incident_id: int) -> Incident:
        incident = g.db.scalars(
            select(Incident).where(Incident.id == incident_id, visible())
        ).first()
        if incident is None:
            abort(404)
        return incident

    def require_staff():
        if g.user.role not in ("engineer", "admin"):
            abort(403)

    def overdue_expression(now: datetime):
        conditions = []
        for severity in set(SEVERITIES) | set(config.deadlines):
            ack, res = config.deadline(severity)
            conditions.append(
                and_(
                    Incident.severity == severity,
                    or_(
                        and_(
                            Incident.claimed_at.is_(None),
                            Incident.starts_at < now - timedelta(seconds=ack),
                        ),
                        Incident.starts_at < now - timedelta(seconds=res),
                    ),
                )
            )
        ack, res = config.deadline("warning")
        conditions.append(
            and_(
                Incident.severity.notin_(set(SEVERITIES) | set(config.deadlines)),
                Incident.starts_at < now - timedelta(seconds=ack),
            )
        )
        return and_(Incident.status != "resolved", or_(*conditions) if conditions else false())

    def listed(state: str) -> list[Incident]:
        now = datetime.now(UTC)
        overdue = case((overdue_expression(now), 0), else_=1)
        query = select(Incident).where(visible())
        if state != "all":
            query = query.where(Incident.status != "resolved")
        query = query.order_by(overdue, Incident.starts_at.desc()).limit(LIST_LIMIT)
        return list(g.db.scalars(query))

    def done(incident: Incident):
        g.db.commit()
        return redirect(url_for("incident_page", incident_id=incident.id), code=303)

    @app.errorhandler(handling.HandlingError)
    def handling_error(err):
        g.db.rollback()
        return render_template("error.html", message=str(err)), 409

    @app.route("/login", methods=["GET", "POST"])
    def login():
        error = ""
        if request.method == "POST":
            if not same_token(request.form.get("csrf"), session.get("csrf")):
                abort(403)
            name = request.form.get("username", "")[:64]
            keys = (f"user:{name}", f"addr:{request.remote_addr}")
            if throttle.blocked(*keys):
                return render_template(
                    "login.html", error="too many failed logins; wait a few minutes"
                ), 429
            user = g.db.scalars(select(User).where(User.username == name)).first()
            if check_password(
                request.form.get("password", ""),
                user.password_hash if user and user.password_hash else None,
            ):
                throttle.succeeded(keys[0])
                session.clear()
                session["uid"], session["csrf"] = user.id, new_csrf_token()
                session.permanent = True
                handling.audit(g.db, user.username, "login")
                g.db.commit()
                return redirect(local_target(request.args.get("next", "")), code=303)
            throttle.failed(*keys)
            error = "wrong name or password"
        return render_template("login.html", error=error), (401 if error else 200)

    @app.post("/logout")
    def logout():
        session.clear()
        return redirect(url_for("login"), code=303)

    @app.get("/")
    def index():
        state = request.args.get("state", "open")
        incidents = listed(state)
        now = datetime.now(UTC)
        return render_template(
            "list.html",
            incidents=incidents,
            state=state,
            overdue={i.id for i in incidents if handling.is_overdue(i, config, now)},
        )

    @app.get("/incidents/<int:incident_id>")
    def incident_page(incident_id: int):
        incident = incident_or_404(incident_id)
        return render_template(
            "incident.html",
            incident=incident,
            labels=json.loads(incident.labels or "{}"),
            due=handling.due_at(incident, config),
            overdue=handling.is_overdue(incident, config),
            tta=handling.time_to_acknowledge(incident),
            ttr=handling.time_to_resolve(incident),
        )

    @app.post("/incidents/<int:incident_id>/claim")
    def claim(incident_id: int):
        require_staff()
        incident = incident_or_404(incident_id)
        handling.claim(g.db, incident, g.user)
        return done(incident)

    @app.post("/incidents/<int:incident_id>/notes")
    def note(incident_id: int):
        incident = incident_or_404(incident_id)
        handling.add_note(g.db, incident, g.user, request.form.get("body", ""))
        return done(incident)

    @app.post("/incidents/<int:incident_id>/remedies")
    def propose(incident_id: int):
        require_staff()
        incident = incident_or_404(incident_id)
        handling.propose_remedy(g.db, incident, g.user, request.form.get("proposal", ""))
        return done(incident)

    @app.post("/incidents/<int:incident_id>/remedies/<int:remedy_id>/decision")
    def decide(incident_id: int, remedy_id: int):
        incident = incident_or_404(incident_id)
        remedy = g.db.get(Remedy, remedy_id)
        if remedy is None or remedy.incident_id != incident.id:
            abort(404)
        handling.decide_remedy(g.db, remedy, g.user, request.form.get("decision") == "approve")
        return done(incident)

    @app.post("/incidents/<int:incident_id>/resolve")
    def resolve(incident_id: int):
        require_staff()
        incident = incident_or_404(incident_id)
        handling.resolve(
            g.db,
            incident,
            g.user,
            request.form.get("root_cause", ""),
            request.form.get("resolution", ""),
        )
        return done(incident)

    @app.route("/requests/new", methods=["GET", "POST"])
    def new_request():
        if request.method == "GET":
            return render_template("request_new.html", customers=sorted(config.customers))
        customer = (
            g.user.customer if g.user.role == "customer" else request.form.get("customer", "")
        )
        severity = request.form.get("severity", "info")
        if severity not in SEVERITIES:
            raise handling.HandlingError(f"severity: expected one of {', '.join(SEVERITIES)}")
        incident = handling.new_request(
            g.db,
            g.user,
            customer,
            request.form.get("system", ""),
            request.form.get("kind", ""),
            request.form.get("title", ""),
            severity,
        )
        return done(incident)

    @app.get("/kb")
    def knowledge():
        query = request.args.get("q", "")[:200]
        docs = kb.search(g.db, query) if query.strip() else []
        if g.user.role == "customer":  # a customer sees runbooks and its own incidents
            own = {
                f"incident:{i}"
                for i in g.db.scalars(
                    select(Incident.id).where(
                        visible(),
                        Incident.id.in_(
                            [int(d.ref.split(":")[1]) for d in docs if d.source == "incident"]
                        ),
                    )
                )
            }
            docs = [d for d in docs if d.source == "runbook" or d.ref in own]
        return render_template(
            "kb.html", query=query, docs=docs, snippet=lambda d: kb.snippet(d, query)
        )

    @app.get("/faq")
    def faq_page():
        return render_template("faq.html", sections=faq.build(g.db, visible()))

    @app.get("/faq.md")
    def faq_markdown():
        return Response(
            faq.to_markdown(faq.build(g.db, visible())),
            mimetype="text/markdown; charset=utf-8",
            headers={"Content-Disposition": "attachment; filename=faq.md"},
        )

    def exported():
        return g.db.scalars(select(Incident).where(visible()).order_by(Incident.id))

    @app.get("/export/incidents.xlsx")
    def export_xlsx():
        return Response(
            to_xlsx(exported()),
            headers={"Content-Disposition": "attachment; filename=incidents.xlsx"},
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )

    @app.get("/export/incidents.csv")
    def export_csv():
        return Response(
            to_csv(exported()),
            mimetype="text/csv; charset=utf-8",
            headers={"Content-Disposition": "attachment; filename=incidents.csv"},
        )

    def period():
        try:
            if request.args.get("from") or request.args.get("to"):
                start = datetime.fromisoformat(request.args.get("from", ""))
                end = datetime.fromisoformat(request.args.get("to", ""))
                if start.tzinfo is None or end.tzinfo is None or end <= start:
                    raise ValueError
                return start, end
            return record.month_bounds(
                request.args.get("month", "") or datetime.now(UTC).strftime("%Y-%m")
            )
        except ValueError:
            abort(400, "expected month=YYYY-MM, or from and to as RFC 3339 times")

    @app.get("/api/service-record")
    def api_service_record():
        return jsonify(record.service_record(g.db, visible(), *period()))

    def summary_incidents():
        """The month's handled incidents, as the service record counts them."""
        start, end = period()
        ids = [row["id"] for row in record.service_record(g.db, visible(), start, end)["incidents"]]
        return start, (
            g.db.scalars(select(Incident).where(Incident.id.in_(ids)).order_by(Incident.id))
            if ids
            else []
        )

    @app.get("/export/summary.csv")
    def export_summary_csv():
        start, incidents = summary_incidents()
        return Response(
            to_csv(incidents),
            mimetype="text/csv; charset=utf-8",
            headers={"Content-Disposition": f"attachment; filename=summary-{start:%Y-%m}.csv"},
        )

    @app.get("/export/summary.xlsx")
    def export_summary_xlsx():
        start, incidents = summary_incidents()
        return Response(
            to_xlsx(incidents),
            headers={"Content-Disposition": f"attachment; filename=summary-{start:%Y-%m}.xlsx"},
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )

    @app.get("/api/incidents")
    def api_incidents():
        return jsonify([incident_json(i) for i in listed(request.args.get("state", "open"))])

    @app.get("/api/incidents/<int:incident_id>")
    def api_incident(incident_id: int):
        return jsonify(incident_json(incident_or_404(incident_id)))

    @app.post("/intake/alertmanager")
    def intake():
        token = config.intake_token()
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token and not same_token(given, token):
            return jsonify(error="a valid bearer token is required"), 401
        try:
            alerts = parse_notification(request.get_data())
        except BadNotification as err:
            return jsonify(error=str(err)), 400
        try:
            created = store_alerts(engine, alerts, config)
        except OperationalError:
            log.warning("intake: the database cannot store the notification now")
            return jsonify(error="the database is unavailable; retry"), 503
        return jsonify(stored=len(alerts), new=created)

    @app.get("/-/healthy")
    def healthy():
        return "OK\n"

    @app.get("/-/ready")
    def ready():
        if ping(engine):
            return "Ready\n"
        return Response("Not ready: the database is unavailable\n", status=503)

    return app


def local_target(target: str) -> str:
    """``target`` when it is a path on this site, else the list (no open redirect)."""
    if (
        target.startswith("/")
        and not target.startswith(("//", "/\\"))
        and "\\" not in target
        and not any(c.isspace() for c in target)
    ):
        return target
    return "/"


def incident_json(incident: Incident) -> dict:
    return {
        "id": incident.id,
        "kind": incident.kind,
        "customer": incident.customer,
        "system": incident.system,
        "severity": incident.severity,
        "alertname": incident.alertname,
        "title": incident.title,
        "status": incident.status,
        "starts_at": incident.starts_at.isoformat(),
        "claimed_by": incident.claimed_by,
        "time_to_acknowledge_seconds": handling.time_to_acknowledge(incident),
        "time_to_resolve_seconds": handling.time_to_resolve(incident),
    }


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"
