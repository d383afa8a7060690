"""canaria.cli"""
