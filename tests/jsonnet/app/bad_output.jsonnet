{ objects: { port: 8080 } }
