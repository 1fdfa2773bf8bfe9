"""What the web UI must never do: show a secret, take a bad host, open the report in place.

Installed on Locust's Flask app at ``init`` (``plugin.hooks``), with Locust's own
extension points (the app's ``before_request`` / ``after_request`` hooks) and one
wrapper around ``WebUI.update_template_args``:

- **secrets** (options registered ``is_secret``, e.g. ``--api-key``): Locust puts every web-UI
  option's value in the page source (``extra_options[...]["default_value"]``), masked on
  screen only. The value is blanked there; a ``/swarm`` form that sends such a field blank
  (what the page now holds) keeps the run's value instead of wiping it;
- **host**: ``/swarm`` with a ``host`` that is not an http(s) URL is refused with the same
  message as the command line (:func:`plugin.option_checks.host_error`), as Locust refuses its
  own bad form values (``{"success": false, "message": ...}``);
- **the report link** (``/quantload/report`` in the "Download Data" tab) opens in a new tab:
  a small script on the index page sets ``target="_blank"`` on it when it is clicked.
"""

from __future__ import annotations

from typing import Any

from plugin.option_checks import host_error
from plugin.options import SECRET_OPTIONS
from plugin.webui import REPORT_PATH

SWARM_PATH = "/swarm"
NEW_TAB_SCRIPT = (
    "<script>document.addEventListener('click',function(e){"
    f"var a=e.target.closest&&e.target.closest('a[href$=\"{REPORT_PATH}\"]');"
    "if(a){a.target='_blank';a.rel='noopener';}},true);</script>"
)
"""Runs in the capture phase, before the browser follows the link."""


def scrub_secrets(template_args: dict[str, Any]) -> set[str]:
    """Blank every secret option's value in the page's template arguments, in place;
    returns the names of the secret options."""
    secret = set()
    for name, option in (template_args.get("extra_options") or {}).items():
        if option.get("is_secret"):
            option["default_value"] = ""
            secret.add(name)
    return secret


def install_guard(web_ui: Any) -> None:
    """Guard ``web_ui`` (a ``locust.web.WebUI``): secrets, host, report link (module doc)."""
    from flask import jsonify, request  # Locust's own web stack
    from werkzeug.datastructures import ImmutableMultiDict

    secret = set(SECRET_OPTIONS)
    update = web_ui.update_template_args

    def update_template_args() -> None:
        update()
        secret.update(scrub_secrets(web_ui.template_args))

    web_ui.update_template_args = update_template_args

    @web_ui.app.before_request
    def _check_swarm():
        if request.path != SWARM_PATH or request.method != "POST":
            return None
        host = request.form.get("host")
        if host and (message := host_error(host)):
            return jsonify({"success": False, "message": message, "host": web_ui.environment.host})
        kept = [(k, v) for k, v in request.form.items(multi=True) if not (k in secret and not v)]
        request.form = ImmutableMultiDict(kept)  # a blank secret field keeps the run's value
        return None

    @web_ui.app.after_request
    def _report_in_new_tab(response):
        if request.path == "/" and response.mimetype == "text/html":
            response.direct_passthrough = False
            page = response.get_data(as_text=True)
            response.set_data(page.replace("</body>", NEW_TAB_SCRIPT + "</body>", 1))
        return response
