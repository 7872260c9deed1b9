#!/usr/bin/env python3
"""test_conversation_mta.py - test_conversation.py's whole conversation with
real parts: parleyd's copies and notices go to a real Postfix on loopback
(the relay), which delivers them into a real Dovecot over LMTP; every
reader's inbox is read back over IMAP."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_conversation  # noqa: E402

test_conversation.main(mta=True)
