#!/bin/sh
# What the SP tells the application: REMOTE_USER, Shib-* and the attributes, one NAME=value a line.
printf 'Content-Type: text/plain; charset=utf-8\r\n\r\n'
env
