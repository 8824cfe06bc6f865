"""A real oslo.messaging notification listener (Debian's python3-oslo.messaging).

Usage: oslo-listener.py TRANSPORT_URL TOPIC
Listens on the `glance` exchange for TOPIC, as Ceilometer listens to Glance,
and prints each notification as a JSON line: priority, publisher_id,
event_type, payload and metadata. Prints READY once listening.
"""
import json
import sys
import threading

from oslo_config import cfg
import oslo_messaging


class Recorder(object):
    # The threading executor may call endpoints from several threads at once: one line per event.
    lock = threading.Lock()

    def _record(self, priority, ctxt, publisher_id, event_type, payload, metadata):
        line = json.dumps({'priority': priority, 'publisher_id': publisher_id, 'event_type': event_type,
                           'payload': payload, 'metadata': metadata})
        with self.lock:
            sys.stdout.write(line + '\n')
            sys.stdout.flush()

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self._record('INFO', ctxt, publisher_id, event_type, payload, metadata)

    def error(self, ctxt, publisher_id, event_type, payload, metadata):
        self._record('ERROR', ctxt, publisher_id, event_type, payload, metadata)

    def warn(self, ctxt, publisher_id, event_type, payload, metadata):
        self._record('WARN', ctxt, publisher_id, event_type, payload, metadata)


def main():
    url, topic = sys.argv[1], sys.argv[2]
    conf = cfg.ConfigOpts()
    conf([])
    transport = oslo_messaging.get_notification_transport(conf, url=url)
    targets = [oslo_messaging.Target(topic=topic, exchange='glance')]
    listener = oslo_messaging.get_notification_listener(transport, targets, [Recorder()], executor='threading')
    listener.start()
    print('READY', flush=True)
    listener.wait()


if __name__ == '__main__':
    main()
