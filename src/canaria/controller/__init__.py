"""canaria.controller"""
