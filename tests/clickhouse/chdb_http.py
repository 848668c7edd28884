"""ClickHouse's HTTP interface over chdb (the current ClickHouse engine, in-process), for weir's
tests only: POST a statement (or `?query=INSERT … FORMAT …` with the rows as the body), get the
answer, or HTTP 500 with ClickHouse's message. URL parameters other than `database` and `query`
are ClickHouse settings; `readonly` is not applied (a chdb session cannot leave it again), and
weir refuses any report that is not a SELECT before it is sent.

Usage: python3 chdb_http.py DATA_DIR PORT
"""
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from chdb import session

path, port = sys.argv[1], int(sys.argv[2])
sess = session.Session(path)
lock = threading.Lock()
NOT_SETTINGS = {"database", "query", "readonly", "insert_distributed_sync"}


def setting(name, value):
    return f"{name} = {value}" if value.lstrip("-").isdigit() else f"{name} = '{value}'"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, data):
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # /ping
        self.answer(200, b"Ok.\n")

    def do_POST(self):
        params = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        sql = params["query"] + "\n" + body if "query" in params else body
        settings = [setting(k, v) for k, v in params.items() if k not in NOT_SETTINGS]
        with lock:
            try:
                if "database" in params:
                    sess.query(f"CREATE DATABASE IF NOT EXISTS `{params['database']}`")
                    sess.query(f"USE `{params['database']}`")
                if settings:
                    sess.query("SET " + ", ".join(settings))
                out = sess.query(sql, "TabSeparated")
                self.answer(200, out.bytes())
            except Exception as e:  # ClickHouse's own message, as a server sends it
                self.answer(500, str(e).encode())


ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
