{ 'app.kubernetes.io/part-of': 'mixed' }
