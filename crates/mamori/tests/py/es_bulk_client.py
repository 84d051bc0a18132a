"""Ship events to mamori with Elastic's official Python client (elasticsearch 8.x).

The client checks what a real Elasticsearch answers (the X-Elastic-Product header, the version
object) and speaks the _bulk protocol exactly as Beats do. Prints one JSON line per step.
Usage: es_bulk_client.py URL TOKEN_ID TOKEN MARKER
"""
import json
import sys

from elasticsearch import Elasticsearch, helpers

url, token_id, token, marker = sys.argv[1:5]
es = Elasticsearch(url, api_key=(token_id, token), request_timeout=30)
info = es.info()
print(json.dumps({"step": "info", "version": info["version"]["number"]}))
docs = [
    {
        "_op_type": "create",
        "_index": "pyclient-test",
        "_source": {
            "@timestamp": "2026-04-01T09:00:%02d+09:00" % (i % 60),
            "message": "%s %d 住民票の写しを印刷" % (marker, i),
            "user": {"name": "yamada.t"},
            "event": {"action": "print"},
        },
    }
    for i in range(500)
]
ok, errors = helpers.bulk(es, docs, chunk_size=200, raise_on_error=False)
print(json.dumps({"step": "bulk", "ok": ok, "errors": len(errors)}))
bad = [{"_op_type": "create", "_index": "pyclient-test", "_source": {"user": {"name": 5}}}]
ok, errors = helpers.bulk(es, bad, raise_on_error=False)
print(json.dumps({"step": "bad", "ok": ok, "errors": [e["create"]["status"] for e in errors]}))
ok, errors = helpers.bulk(es, [{"_op_type": "delete", "_index": "pyclient-test", "_id": "1"}], raise_on_error=False)
print(json.dumps({"step": "delete", "ok": ok, "errors": [e["delete"]["status"] for e in errors]}))
